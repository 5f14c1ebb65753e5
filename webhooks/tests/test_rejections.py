"""Rejected deliveries are not stored; they are counted per source and reason, and the last
few are kept without secrets so that an operator can see why a sender fails."""

import json

import pytest

from webhooks import selectors, sources, verification
from webhooks.models import WebhookReceipt
from webhooks.tests.signing import bespin_headers, body_of, hex_hmac

pytestmark = pytest.mark.django_db

SECRET = "reject-secret"


@pytest.fixture(autouse=True)
def acme(make_source):
    return make_source("acme", secrets=[SECRET])


def test_rejections_are_counted_per_source_and_reason(deliver):
    body = body_of({"event": "e"})
    deliver("acme", body)
    deliver("acme", body, {"X-Webhook-Signature": hex_hmac("wrong", body)})
    deliver("acme", body, {"X-Webhook-Signature": hex_hmac("wrong", body + b" ")})
    deliver("acme", b"[]", bespin_headers(SECRET, b"[]"))
    assert selectors.rejection_counts("acme") == {"missing_signature": 1, "bad_signature": 2, "not_json_object": 1}
    assert not WebhookReceipt.objects.exists()


def test_kept_rejection_shows_reason_headers_and_body_head_but_no_secret(deliver):
    body = body_of({"event": "e", "pad": "z" * 1000})
    signature = hex_hmac("wrong", body)
    deliver("acme", body, {"X-Webhook-Signature": signature, "Authorization": "Bearer hunter2", "User-Agent": "ua/1"})
    [entry] = selectors.recent_rejections("acme")
    assert (entry["reason"], entry["status"]) == ("bad_signature", 401)
    assert entry["headers"]["user-agent"] == "ua/1"
    assert entry["headers"]["x-webhook-signature"] == f"<redacted, {len(signature)} characters>"
    assert entry["body_head"] == body[:256].decode()
    kept = json.dumps(entry)
    assert signature not in kept and "hunter2" not in kept and SECRET not in kept


def test_only_the_last_few_rejections_are_kept_newest_first(deliver, settings):
    settings.WEBHOOK_REJECTIONS_KEPT = 3
    for number in range(5):
        deliver("acme", body_of({"n": number}))
    kept = selectors.recent_rejections("acme")
    assert [json.loads(entry["body_head"])["n"] for entry in kept] == [4, 3, 2]
    assert selectors.rejection_counts("acme") == {"missing_signature": 5}


def test_unknown_source_is_not_kept_under_its_made_up_name(deliver):
    deliver("made-up", body_of({}))
    assert selectors.rejection_counts("made-up") == {}


def test_over_the_rate_is_429_with_retry_after(deliver, acme):
    sources.update_source(source=acme, rate_per_minute=3)
    answers = []
    for number in range(5):
        body = body_of({"event": "e", "n": number})
        answers.append(deliver("acme", body, bespin_headers(SECRET, body)))
    assert [answer.status_code for answer in answers] == [201, 201, 201, 429, 429]
    assert 1 <= int(answers[3]["Retry-After"]) <= 61
    assert "rate of 3 deliveries a minute" in answers[3].json()["error"]
    assert WebhookReceipt.objects.count() == 3
    assert selectors.rejection_counts("acme") == {"rate_limited": 2}


def test_rate_is_counted_per_source(deliver, acme, make_source):
    sources.update_source(source=acme, rate_per_minute=1)
    make_source("other", secrets=[SECRET], rate_per_minute=1)
    for source in ("acme", "other"):
        body = body_of({"event": source})
        assert deliver(source, body, bespin_headers(SECRET, body)).status_code == 201


def test_rate_of_zero_means_no_limit(deliver, acme):
    sources.update_source(source=acme, rate_per_minute=0)
    for number in range(5):
        body = body_of({"n": number})
        assert deliver("acme", body, bespin_headers(SECRET, body)).status_code == 201


def test_source_health_shows_deliveries_last_success_and_rejections(deliver):
    body = body_of({"event": "ok"})
    deliver("acme", body, bespin_headers(SECRET, body))
    deliver("acme", body_of({"event": "bad"}))
    [health] = selectors.source_health(names=["acme"])
    receipt = WebhookReceipt.objects.get()
    assert (health.deliveries_last_day, health.last_success) == (1, receipt.received_at)
    assert health.rejections_by_reason == {"missing_signature": 1}
    assert health.rejections_total == 1
    assert health.recent_rejections[0]["reason"] == "missing_signature"
    assert (health.scheme, health.enabled, health.active_secrets) == ("bespin", True, 1)


def test_malformed_headers_of_any_kind_never_give_a_500(deliver):
    for headers in ({"X-Webhook-Signature": "\x7f" * 10}, {"X-Webhook-Signature": "sha256=" + "ÿ" * 64},
                    {"Content-Length": "abc"}, {"X-Webhook-Event": "\x01"}, {"Stripe-Signature": "t=1"}):  # fmt: skip
        assert deliver("acme", body_of({}), headers).status_code < 500


def test_batch_spends_the_rate_in_arrival_order(acme, make_source):
    sources.update_source(source=acme, rate_per_minute=3)
    make_source("other", secrets=[SECRET], rate_per_minute=0)
    requests = []
    for number, source in enumerate(["acme", "other", "acme", "acme", "acme", "other", "acme"]):
        body = body_of({"event": "e", "n": number})
        requests.append({"source_name": source, "headers": bespin_headers(SECRET, body), "body": body})
    outcomes = verification.verify_deliveries(requests=requests)
    limited = [getattr(outcome, "reason", None) == "rate_limited" for outcome in outcomes]
    assert limited == [False, False, False, False, True, False, True]
    assert selectors.rejection_counts("acme") == {"rate_limited": 2}
