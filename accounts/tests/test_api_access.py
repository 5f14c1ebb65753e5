"""The API access page: a signed-in user creates, rotates and revokes their API token there.
A new key is shown once, on the answer to the POST that made it; the API refuses a rotated or
revoked key at once. Every change is a POST with CSRF, for signed-in users only, and no
answer of the page is kept in a cache."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts import extensions

pytestmark = pytest.mark.django_db

PAGE = reverse("api-access")
TOKEN = reverse("api-access-change", args=["token"])


def _shown_key(response) -> str:
    match = re.search(r'<code class="secret" id="token-key">([0-9a-f]{40})</code>', response.content.decode())
    assert match, "no key shown"
    return match.group(1)


def _api_status(api, key: str) -> int:
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api.get("/api/jobs").status_code


def _no_store(response) -> bool:
    return "no-store" in [part.strip() for part in response["Cache-Control"].split(",")]


def test_a_new_token_is_shown_once_with_a_curl_line_that_uses_it(signed_in, owner, api):
    assert "You have no API token." in signed_in.get(PAGE).content.decode()
    response = signed_in.post(TOKEN, {"action": "create"})
    assert response.status_code == 200 and _no_store(response)
    key = _shown_key(response)
    assert key == Token.objects.get(user=owner).key
    page = response.content.decode()
    assert f"curl -s http://testserver/api/jobs -H &quot;Authorization: Token {key}&quot;" in page
    assert "API token created." in page
    assert _api_status(api, key) == 200

    later = signed_in.get(PAGE)
    assert later.status_code == 200 and _no_store(later)
    page = later.content.decode()
    assert key not in page
    assert f"<code>{key[:4]}…</code>" in page
    assert "&lt;your token&gt;" in page and 'id="token-key"' not in page


def test_the_curl_line_follows_the_host_and_scheme_the_page_was_asked_on(signed_in, settings):
    settings.ALLOWED_HOSTS = ["bespin.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = signed_in.post(
        TOKEN, {"action": "create"}, HTTP_HOST="bespin.example.com", HTTP_X_FORWARDED_PROTO="https"
    )
    key = _shown_key(response)
    assert f"curl -s https://bespin.example.com/api/jobs -H &quot;Authorization: Token {key}&quot;" in (
        response.content.decode()
    )


def test_rotating_shows_a_new_key_and_the_old_one_is_refused_at_once(signed_in, owner, api):
    old = _shown_key(signed_in.post(TOKEN, {"action": "create"}))
    response = signed_in.post(TOKEN, {"action": "rotate"})
    assert response.status_code == 200 and _no_store(response)
    new = _shown_key(response)
    assert new != old and Token.objects.get(user=owner).key == new
    assert "the previous key no longer works" in response.content.decode()
    assert _api_status(api, old) == 401
    assert _api_status(api, new) == 200


def test_revoking_deletes_the_token_and_its_key_is_refused(signed_in, owner, api):
    key = _shown_key(signed_in.post(TOKEN, {"action": "create"}))
    response = signed_in.post(TOKEN, {"action": "revoke"}, follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    page = response.content.decode()
    assert "API token revoked" in page and "You have no API token." in page
    assert not Token.objects.filter(user=owner).exists()
    assert _api_status(api, key) == 401


def test_create_never_replaces_a_token_in_use(signed_in, owner, api):
    # A page opened before the token was made still offers "Create token".
    key = _shown_key(signed_in.post(TOKEN, {"action": "create"}))
    response = signed_in.post(TOKEN, {"action": "create"}, follow=True)
    page = response.content.decode()
    assert "Nothing changed: you have an API token already" in page and 'id="token-key"' not in page
    assert Token.objects.get(user=owner).key == key
    assert _api_status(api, key) == 200


def test_revoking_without_a_token_says_so(signed_in):
    response = signed_in.post(TOKEN, {"action": "revoke"}, follow=True)
    assert "Nothing changed: you have no API token." in response.content.decode()


def test_each_user_changes_only_their_own_token(client, owner, stranger, api):
    theirs = Token.objects.create(user=stranger)
    client.force_login(owner)
    client.post(TOKEN, {"action": "rotate"})
    client.post(TOKEN, {"action": "revoke"})
    assert Token.objects.get(user=stranger).key == theirs.key
    assert f"<code>{theirs.key[:4]}…</code>" not in client.get(PAGE).content.decode()
    assert _api_status(api, theirs.key) == 200


def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(client, owner):
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"] == f"{reverse('login')}?next={PAGE}"
    for action in ("create", "rotate"):
        response = client.post(TOKEN, {"action": action})
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Token.objects.exists()


def test_a_post_without_the_csrf_token_is_refused(owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert browser.post(TOKEN, {"action": "create"}).status_code == 403
    assert not Token.objects.exists()
    # The page's own form carries the token, and with it the same POST goes through.
    page = browser.get(PAGE).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert browser.post(TOKEN, {"action": "create", "csrfmiddlewaretoken": csrf}).status_code == 200
    assert Token.objects.filter(user=owner).exists()


def test_changes_need_a_post_and_a_known_action(signed_in, owner):
    assert signed_in.get(TOKEN).status_code == 405
    assert signed_in.post(PAGE).status_code == 405
    assert signed_in.post(TOKEN, {"action": "steal"}).status_code == 400
    assert signed_in.post(TOKEN).status_code == 400
    assert signed_in.post(reverse("api-access-change", args=["nothing"]), {"action": "create"}).status_code == 404
    assert not Token.objects.exists()


def test_changes_past_the_rate_are_429_and_change_nothing(signed_in, owner, settings):
    settings.THROTTLE_CREDENTIALS = "3/min"
    assert signed_in.post(TOKEN, {"action": "create"}).status_code == 200
    assert signed_in.post(TOKEN, {"action": "rotate"}).status_code == 200
    assert signed_in.post(TOKEN, {"action": "revoke"}).status_code == 302
    refused = signed_in.post(TOKEN, {"action": "create"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Try again in" in refused.content.decode()
    assert not Token.objects.filter(user=owner).exists()
    # Looking is not counted.
    assert signed_in.get(PAGE).status_code == 200


def test_without_other_sections_the_page_has_the_token_alone(signed_in, monkeypatch):
    monkeypatch.setattr(extensions, "access_sections", [])
    page = signed_in.get(PAGE).content.decode()
    assert 'id="token-heading"' in page and "Callback secret" not in page
    assert signed_in.post(reverse("api-access-change", args=["callback-secret"]), {"action": "rotate"}).status_code == (
        404
    )


def test_the_header_links_the_page_for_signed_in_users(signed_in):
    page = signed_in.get(reverse("dashboard")).content.decode()
    assert f'<a href="{PAGE}">API access</a>' in page
    here = signed_in.get(PAGE).content.decode()
    assert f'<a href="{PAGE}" aria-current="page">API access</a>' in here
    assert 'src="/static/accounts/access.js"' in here and "<script>" not in here
