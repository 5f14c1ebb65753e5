"""GitHub: X-Hub-Signature-256, the event from X-GitHub-Event, the id from X-GitHub-Delivery."""

import pytest
from django.test import override_settings

from webhooks.models import WebhookReceipt
from webhooks.tests.signing import bespin_headers, body_of, github_headers, hex_hmac

pytestmark = pytest.mark.django_db

SECRET = "gh-secret"


@pytest.fixture(autouse=True)
def github(make_source):
    return make_source("github", scheme="github", secrets=[SECRET])


def test_signed_push_is_stored_with_event_and_delivery_id(deliver):
    body = body_of({"ref": "refs/heads/main"})
    response = deliver("github", body, github_headers(SECRET, body, event="push", delivery="d-1"))
    assert response.status_code == 201
    receipt = WebhookReceipt.objects.get(id=response.json()["id"])
    assert (receipt.event, receipt.delivery_id) == ("push", "d-1")
    assert receipt.headers["X-GitHub-Delivery"] == "d-1"


def test_redelivery_with_the_same_delivery_id_is_200_with_the_first_receipt(deliver):
    body = body_of({"ref": "refs/heads/main"})
    first = deliver("github", body, github_headers(SECRET, body, delivery="d-2"))
    again = deliver("github", body, github_headers(SECRET, body, delivery="d-2"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["duplicate"] is True
    assert WebhookReceipt.objects.count() == 1


def test_two_deliveries_of_the_same_body_with_different_ids_are_two_receipts(deliver):
    body = body_of({"zen": "same"})
    deliver("github", body, github_headers(SECRET, body, delivery="d-3"))
    deliver("github", body, github_headers(SECRET, body, delivery="d-4"))
    assert WebhookReceipt.objects.count() == 2


def test_tampered_body_is_401(deliver):
    body = body_of({"ref": "refs/heads/main"})
    response = deliver("github", body + b" ", github_headers(SECRET, body))
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["error"]


@pytest.mark.parametrize("value", ["757107ea", "sha1=" + "a" * 40, "sha256=" + "g" * 64, "sha256=" + "A" * 64, "="])
def test_malformed_signature_is_401(deliver, value):
    response = deliver("github", body_of({}), {"X-Hub-Signature-256": value, "X-GitHub-Event": "push"})
    assert response.status_code == 401
    assert "sha256=" in response.json()["error"]


def test_only_the_sha1_signature_is_400_that_says_so(deliver):
    body = body_of({})
    response = deliver("github", body, {"X-Hub-Signature": "sha1=" + "0" * 40})
    assert response.status_code == 400
    assert "SHA-1" in response.json()["error"]


def test_default_header_alone_still_verifies_for_a_github_source(deliver):
    body = body_of({"event": "seed.style"})
    response = deliver("github", body, bespin_headers(SECRET, body))
    assert response.status_code == 201
    assert response.json()["event"] == "seed.style"


def test_default_header_with_a_wrong_signature_is_401(deliver):
    body = body_of({"event": "seed.style"})
    assert deliver("github", body, {"X-Webhook-Signature": hex_hmac("wrong", body)}).status_code == 401


@override_settings(WEBHOOK_SECRETS={"github": ["env-secret"]})
def test_environment_only_github_source_takes_the_github_scheme_and_the_default_header(deliver, github):
    from webhooks import sources

    sources.delete_source(source=github)
    body = body_of({"event": "seed.style"})
    assert deliver("github", body, github_headers("env-secret", body, delivery="d-9")).status_code == 201
    other = body_of({"event": "seed.other"})
    assert deliver("github", other, bespin_headers("env-secret", other)).status_code == 201
