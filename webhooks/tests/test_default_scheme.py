"""The default (bespin) scheme, the seed's contract: X-Webhook-Signature over the raw body."""

import pytest

from webhooks.models import WebhookReceipt
from webhooks.tests.signing import bespin_headers, body_of, hex_hmac

pytestmark = pytest.mark.django_db

SECRET = "acme-secret"


@pytest.fixture(autouse=True)
def acme(make_source):
    return make_source("acme", secrets=[SECRET])


def test_signed_delivery_is_stored_and_answered_201_with_its_id(deliver):
    body = body_of({"event": "order.paid", "order": 42})
    response = deliver("acme", body, bespin_headers(SECRET, body))
    assert response.status_code == 201
    answer = response.json()
    receipt = WebhookReceipt.objects.get(id=answer["id"])
    assert answer == {"id": str(receipt.id), "event": "order.paid", "job_id": None, "duplicate": False}
    assert (receipt.source, receipt.event, receipt.verified) == ("acme", "order.paid", True)
    assert receipt.payload == {"event": "order.paid", "order": 42}


def test_sha256_prefix_and_uppercase_hex_are_accepted(deliver):
    body = body_of({"event": "a"})
    response = deliver("acme", body, {"X-Webhook-Signature": "sha256=" + hex_hmac(SECRET, body).upper()})
    assert response.status_code == 201


def test_event_comes_from_the_body_before_the_header(deliver):
    body = body_of({"event": "from.body"})
    response = deliver("acme", body, bespin_headers(SECRET, body, **{"X-Webhook-Event": "from.header"}))
    assert response.json()["event"] == "from.body"


@pytest.mark.parametrize("payload", [{"x": 1}, {"event": 7}, {"event": ""}])
def test_event_falls_back_to_the_header(deliver, payload):
    body = body_of(payload)
    response = deliver("acme", body, bespin_headers(SECRET, body, **{"X-Webhook-Event": "from.header"}))
    assert response.json()["event"] == "from.header"


def test_event_is_unknown_without_body_field_or_header(deliver):
    body = body_of({"x": 1})
    assert deliver("acme", body, bespin_headers(SECRET, body)).json()["event"] == "unknown"


def test_missing_signature_is_400_and_nothing_is_stored(deliver):
    response = deliver("acme", body_of({"event": "a"}))
    assert response.status_code == 400
    assert response.json() == {"error": "missing X-Webhook-Signature header"}
    assert not WebhookReceipt.objects.exists()


def test_tampered_body_is_401_and_nothing_is_stored(deliver):
    body = body_of({"event": "a", "amount": 10})
    response = deliver("acme", body.replace(b"10", b"99"), bespin_headers(SECRET, body))
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert not WebhookReceipt.objects.exists()


def test_signature_with_another_secret_is_401(deliver):
    body = body_of({"event": "a"})
    assert deliver("acme", body, bespin_headers("not-the-secret", body)).status_code == 401


@pytest.mark.parametrize(
    "signature", ["abc", "sha256=", "sha1=" + "0" * 40, "z" * 64, "0" * 63, "0" * 65, " ", "é" * 64]
)
def test_malformed_signature_is_401_with_the_expected_format(deliver, signature):
    response = deliver("acme", body_of({"event": "a"}), {"X-Webhook-Signature": signature})
    assert response.status_code in (400, 401)
    assert "X-Webhook-Signature" in response.json()["error"]


def test_unknown_source_is_404(deliver):
    body = body_of({"event": "a"})
    response = deliver("nobody", body, bespin_headers(SECRET, body))
    assert response.status_code == 404
    assert "no webhook source" in response.json()["error"]


def test_disabled_source_is_404(deliver, acme):
    from webhooks import sources

    sources.update_source(source=acme, enabled=False)
    body = body_of({"event": "a"})
    response = deliver("acme", body, bespin_headers(SECRET, body))
    assert response.status_code == 404
    assert "disabled" in response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'"text"', b"null", b"42", b'{"a": ', b"\xff\xfe", b"", b'{"a": NaN}', b'{"a": 1e999}',
     b'{"a": "\\u0000"}', b'{"a": "\\ud800"}', b"[" * 5000 + b"]" * 5000],
)  # fmt: skip
def test_verified_body_that_is_not_a_storable_json_object_is_400(deliver, body):
    response = deliver("acme", body, bespin_headers(SECRET, body))
    assert response.status_code == 400
    assert (
        "JSON object" in response.json()["error"]
        or "\\u0000" in response.json()["error"]
        or "surrogate" in response.json()["error"]
    )
    assert not WebhookReceipt.objects.exists()


def test_selected_headers_are_kept_and_the_signature_is_not(deliver):
    body = body_of({"event": "a"})
    headers = bespin_headers(SECRET, body, **{"User-Agent": "acme-hooks/1.0", "Authorization": "Bearer t0ken"})
    receipt = WebhookReceipt.objects.get(id=deliver("acme", body, headers).json()["id"])
    assert receipt.headers["User-Agent"] == "acme-hooks/1.0"
    assert receipt.headers["Content-Type"] == "application/json"
    stored = str(receipt.headers).lower()
    assert "signature" not in stored and "authorization" not in stored and "t0ken" not in stored


def test_delivery_needs_no_csrf_token_or_session(make_source, deliver):
    # A browser's cookies without a CSRF token would be refused by a Django form; a sender has neither.
    body = body_of({"event": "a"})
    response = deliver("acme", body, bespin_headers(SECRET, body) | {"Cookie": "sessionid=stale; csrftoken=x"})
    assert response.status_code == 201
    assert "set-cookie" not in response.headers
