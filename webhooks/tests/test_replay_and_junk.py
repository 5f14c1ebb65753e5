"""A source's budget is spent only by verified deliveries: junk is limited apart, per source
and sender address, so that a flood of it never locks out the real sender. A timestamped
delivery cannot be replayed once it is stale, and receipts outlive the replay window."""

import http.client
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from bespin.testing.processes import Processes
from webhooks.models import WebhookReceipt
from webhooks.selectors import rejection_counts
from webhooks.tests.signing import bespin_headers, body_of, hex_hmac

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "acme-secret"


@pytest.fixture
def acme(make_source):
    return make_source("acme", secrets=[SECRET], rate_per_minute=100)


def timestamped(body: bytes, timestamp: int, secret: str = SECRET) -> dict:
    return {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": hex_hmac(secret, f"{timestamp}.".encode() + body),
    }


def test_junk_from_one_address_never_locks_out_the_real_sender_of_a_real_server(tmp_path, acme):
    processes = Processes(tmp_path, BESPIN_NUM_PROXIES="1", BESPIN_WEBHOOK_UNVERIFIED_RATE_PER_MINUTE="60")
    try:
        host, port = processes.web().split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)

        def post(body: bytes, headers: dict, address: str) -> int:
            connection.request("POST", "/api/webhooks/acme", body=body, headers=headers | {"X-Forwarded-For": address})
            response = connection.getresponse()
            response.read()
            return response.status

        junk = [post(body_of({"n": n}), {"X-Webhook-Signature": "0" * 64}, "198.51.100.1") for n in range(300)]
        genuine = body_of({"event": "order.paid"})
        from_elsewhere = post(genuine, bespin_headers(SECRET, genuine), "203.0.113.5")
        other = body_of({"event": "order.void"})
        from_the_junk_address = post(other, bespin_headers(SECRET, other), "198.51.100.1")
        connection.close()
    finally:
        processes.stop_all()
    assert junk[:60] == [401] * 60 and set(junk[60:]) == {429}
    assert (from_elsewhere, from_the_junk_address) == (201, 201)
    assert rejection_counts("acme") == {"bad_signature": 60, "unverified_rate_limited": 240}


def test_only_verified_deliveries_spend_the_sources_rate(acme, deliver):
    for n in range(50):
        assert deliver("acme", body_of({"n": n}), {"X-Webhook-Signature": "0" * 64}).status_code in (401, 429)
    statuses = []
    for n in range(101):
        body = body_of({"event": "e", "n": n})
        statuses.append(deliver("acme", body, bespin_headers(SECRET, body)).status_code)
    assert statuses == [201] * 100 + [429]
    assert WebhookReceipt.objects.count() == 100


def test_a_timestamped_delivery_is_signed_with_its_timestamp_and_refused_once_stale(acme, deliver):
    body = body_of({"event": "order.paid"})
    now = int(time.time())
    assert deliver("acme", body, timestamped(body, now)).status_code == 201
    replayed = deliver("acme", body, timestamped(body, now))
    assert replayed.status_code == 200 and replayed.json()["duplicate"] is True
    stale = deliver("acme", body, timestamped(body, now - 3600))
    assert stale.status_code == 401 and "tolerance" in stale.json()["error"]
    # The body's signature alone does not cover the timestamp a sender claims.
    body_only = deliver("acme", body, bespin_headers(SECRET, body) | {"X-Webhook-Timestamp": str(now)})
    assert body_only.status_code == 401
    assert deliver("acme", body, timestamped(body, now) | {"X-Webhook-Timestamp": "soon"}).status_code == 401
    assert rejection_counts("acme") == {"timestamp_out_of_tolerance": 1, "bad_signature": 1, "malformed_signature": 1}


def test_the_same_body_sent_again_with_a_new_timestamp_is_a_new_delivery(acme, deliver):
    body = body_of({"event": "ping"})
    now = int(time.time())
    assert deliver("acme", body, timestamped(body, now - 10)).status_code == 201
    assert deliver("acme", body, timestamped(body, now)).status_code == 201
    assert WebhookReceipt.objects.count() == 2


def test_receipts_outlive_the_replay_window_whatever_prune_is_asked(acme, make_receipt, settings):
    settings.WEBHOOK_TOLERANCE_SECONDS = 300
    now = timezone.now()
    make_receipt(delivery_id="young", received_at=now - timedelta(minutes=2))
    make_receipt(delivery_id="old", received_at=now - timedelta(minutes=10))
    call_command("prune_webhooks", "--older-than", "1m", stdout=None)
    assert list(WebhookReceipt.objects.values_list("delivery_id", flat=True)) == ["young"]
