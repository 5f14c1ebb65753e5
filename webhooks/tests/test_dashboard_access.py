"""The webhook pages of the dashboard are for staff only."""

import pytest
from django.urls import reverse

from webhooks.tests.signing import bespin_headers, body_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def receipt_url(make_source, deliver):
    make_source("acme", secrets=["acme-secret"])
    body = body_of({"event": "build.done"})
    response = deliver("acme", body, bespin_headers("acme-secret", body))
    assert response.status_code == 201
    return reverse("webhook-receipt", args=[response.json()["id"]])


@pytest.fixture
def urls(receipt_url):
    return [reverse("webhook-receipts"), reverse("webhook-sources"), receipt_url]


def test_an_anonymous_visitor_is_sent_to_sign_in(client, urls):
    for url in urls:
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, f"{reverse('login')}?next={url}")


def test_a_signed_in_user_who_is_not_staff_is_refused(client, owner, urls):
    client.force_login(owner)
    for url in urls:
        assert client.get(url).status_code == 403


def test_staff_open_every_page(client, staff, urls):
    client.force_login(staff)
    for url in urls:
        assert client.get(url).status_code == 200


def test_only_staff_see_the_webhooks_link(client, owner, staff):
    client.force_login(owner)
    assert f'href="{reverse("webhook-receipts")}"' not in client.get(reverse("dashboard")).content.decode()
    client.force_login(staff)
    assert f'href="{reverse("webhook-receipts")}"' in client.get(reverse("dashboard")).content.decode()
