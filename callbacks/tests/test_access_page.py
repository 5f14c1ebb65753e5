"""The callback secret's section of the API access page: create the secret, then rotate it,
each shown once on the answer, as POST /api/me/callback-secret does; after a rotation the
page says until when the replaced secret still signs."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from callbacks import selectors, services
from callbacks.models import CallbackSecret

pytestmark = pytest.mark.django_db

PAGE = reverse("api-access")
SECRET = reverse("api-access-change", args=["callback-secret"])


def _shown_secret(response) -> str:
    match = re.search(
        r'<code class="secret" id="callback-secret">(whsec_[A-Za-z0-9+/=]+)</code>', response.content.decode()
    )
    assert match, "no secret shown"
    return match.group(1)


def _no_store(response) -> bool:
    return "no-store" in [part.strip() for part in response["Cache-Control"].split(",")]


def test_the_first_secret_is_created_and_shown_once(signed_in, owner):
    assert "You have no callback secret" in signed_in.get(PAGE).content.decode()
    response = signed_in.post(SECRET, {"action": "rotate"})
    assert response.status_code == 200 and _no_store(response)
    secret = _shown_secret(response)
    assert "Callback secret created." in response.content.decode()
    assert selectors.signing_secrets(user_ids=[owner.pk]) == {owner.pk: [secret]}

    later = signed_in.get(PAGE).content.decode()
    assert secret not in later and 'id="callback-secret"' not in later
    assert "Your secret was created" in later and "Rotate callback secret" in later


def test_a_rotation_shows_the_new_secret_and_until_when_the_old_one_signs(signed_in, owner):
    first = _shown_secret(signed_in.post(SECRET, {"action": "rotate"}))
    response = signed_in.post(SECRET, {"action": "rotate"})
    assert response.status_code == 200 and _no_store(response)
    second = _shown_secret(response)
    assert second != first
    assert selectors.signing_secrets(user_ids=[owner.pk]) == {owner.pk: [second, first]}
    until = CallbackSecret.objects.get(user=owner).previous_until
    page = response.content.decode()
    assert f"Callback secret rotated: the previous one signs too until {until:%Y-%m-%d %H:%M} UTC." in page
    assert f'The previous secret signs too until <time datetime="{until.isoformat()}">' in page
    # Later visits still say so, without either secret.
    later = signed_in.get(PAGE).content.decode()
    assert first not in later and second not in later
    assert f'The one it replaced signs too until <time datetime="{until.isoformat()}">' in later


def test_the_page_says_how_long_a_replaced_secret_signs(signed_in):
    signed_in.post(SECRET, {"action": "rotate"})
    hours = int(services.SECRET_OVERLAP.total_seconds() // 3600)
    assert f"the current one still signs for {hours} hours" in signed_in.get(PAGE).content.decode()


def test_each_user_rotates_only_their_own_secret(client, owner, stranger):
    theirs = services.rotate_callback_secret(user=stranger).secret
    client.force_login(owner)
    client.post(SECRET, {"action": "rotate"})
    assert selectors.signing_secrets(user_ids=[stranger.pk]) == {stranger.pk: [theirs]}


def test_anonymous_visitors_and_posts_without_csrf_change_nothing(client, owner):
    response = client.post(SECRET, {"action": "rotate"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert browser.post(SECRET, {"action": "rotate"}).status_code == 403
    assert not CallbackSecret.objects.exists()
