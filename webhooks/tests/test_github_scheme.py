"""GitHub: X-Hub-Signature-256, the event from X-GitHub-Event; a delivery is known by its signed
body (X-GitHub-Delivery is not signed, and is kept in the receipt's headers)."""

import hashlib

import pytest
from django.test import override_settings

from jobs.models import Job
from webhooks import sources
from webhooks.models import WebhookReceipt, WebhookSource
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
    assert (receipt.event, receipt.delivery_id) == ("push", "sha256:" + hashlib.sha256(body).hexdigest())
    assert receipt.headers["X-GitHub-Delivery"] == "d-1"


def test_redelivery_with_the_same_delivery_id_is_200_with_the_first_receipt(deliver):
    body = body_of({"ref": "refs/heads/main"})
    first = deliver("github", body, github_headers(SECRET, body, delivery="d-2"))
    again = deliver("github", body, github_headers(SECRET, body, delivery="d-2"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["duplicate"] is True
    assert WebhookReceipt.objects.count() == 1


def test_a_captured_delivery_sent_again_under_a_fresh_delivery_id_is_a_replay(deliver, make_source):
    sources.set_trigger(source=WebhookSource.objects.get(name="github"), event_pattern="push", job_kind="sleep",
                        params={"seconds": 0})  # fmt: skip
    body = body_of({"zen": "same"})
    first = deliver("github", body, github_headers(SECRET, body, delivery="d-3"))
    again = deliver("github", body, github_headers(SECRET, body, delivery="d-4"))
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["duplicate"] is True
    assert WebhookReceipt.objects.count() == 1 and Job.objects.count() == 1  # its trigger's job once


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
