"""A delivery fails alone: a malformed one is refused for itself (401, counted as unverified),
and whatever goes wrong with one is never the answer of the others stored with it."""

import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from webhooks import endpoint, receipts, verification
from webhooks.rejections import Rejected
from webhooks.schemes import BespinScheme
from webhooks.selectors import rejection_counts
from webhooks.tests.signing import bespin_headers, body_of, hex_hmac, standard_headers, stripe_headers

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "acme-secret"
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HUGE = "9" * 5000


@pytest.fixture
def acme(make_source):
    return make_source("acme", secrets=[SECRET], rate_per_minute=0)


def huge_timestamps(body: bytes) -> dict[str, dict]:
    """Deliveries whose signed timestamp is 5,000 digits long, one per scheme that signs one."""
    signature = hex_hmac(SECRET, body)
    return {
        "acme": {"X-Webhook-Signature": signature, "X-Webhook-Timestamp": HUGE},
        "stripe": {"Stripe-Signature": f"t={HUGE},v1={signature}"},
        "standard": {"webhook-id": "msg_1", "webhook-timestamp": HUGE, "webhook-signature": "v1,AAAA"},
    }


@pytest.fixture
def three_schemes(acme, make_source):
    make_source("stripe", scheme="stripe", secrets=[SECRET], rate_per_minute=0)
    make_source("standard", scheme="standard", secrets=[STANDARD_SECRET], rate_per_minute=0)


def request(source: str, body: bytes, headers: dict) -> dict:
    return {"source_name": source, "headers": endpoint.Headers(headers.items()), "body": body, "address": "192.0.2.1"}


def genuine(n: int) -> dict:
    body = body_of({"event": "order.paid", "n": n})
    return request("acme", body, bespin_headers(SECRET, body))


@pytest.mark.usefixtures("three_schemes")
def test_a_timestamp_too_long_to_parse_is_a_401_that_fails_only_its_own_delivery_in_a_batch():
    body = body_of({"event": "order.paid"})
    junk = [request(source, body, headers) for source, headers in huge_timestamps(body).items()]
    batch = [genuine(0), junk[0], genuine(1), junk[1], junk[2], genuine(2)]
    answers = endpoint._in_thread(endpoint.answer_deliveries, batch)
    assert [answer.status for answer in answers] == [201, 401, 201, 401, 401, 201]
    assert "unix seconds" in answers[1].data["error"]
    for source in ("acme", "stripe", "standard"):
        assert rejection_counts(source) == {"malformed_signature": 1}


def test_a_timestamp_with_leading_zeros_is_refused_not_stored_as_a_new_delivery(acme, deliver):
    body = body_of({"event": "order.paid"})
    now = int(time.time())
    signature = hex_hmac(SECRET, f"{now}.".encode() + body)
    assert deliver("acme", body, {"X-Webhook-Signature": signature, "X-Webhook-Timestamp": str(now)}).status_code == 201
    for spelling in (f"0{now}", f"00{now}"):
        replay = deliver("acme", body, {"X-Webhook-Signature": signature, "X-Webhook-Timestamp": spelling})
        assert replay.status_code == 401 and "leading zeros" in replay.json()["error"]
    assert rejection_counts("acme") == {"malformed_signature": 2}


def test_a_delivery_the_database_refuses_fails_alone_and_the_rest_of_its_insert_is_stored(acme):
    def delivery(source: str, n: int) -> verification.Delivery:
        return verification.Delivery(
            source=source, event="e", delivery_id=str(uuid.uuid4()), payload={"n": n}, headers={}
        )  # fmt: skip

    # A source name longer than its column: PostgreSQL refuses the row, and with it the
    # whole multi-row INSERT the batch was going to be.
    batch = [delivery("acme", 0), delivery("a" * 65, 1), delivery("acme", 2)]
    stored = receipts.record_deliveries(deliveries=batch)
    assert [type(outcome) for outcome in stored] == [receipts.Accepted, Rejected, receipts.Accepted]
    assert stored[1].status == 500
    assert all(outcome.created for outcome in (stored[0], stored[2]))


def test_a_delivery_whose_scheme_fails_unexpectedly_fails_alone(acme, monkeypatch):
    # The one fault staged here: a scheme that raises what no scheme should, for one body.
    original = BespinScheme.event

    def event(self, *, headers, payload):
        if payload.get("boom"):
            raise LookupError("a fault no scheme should have")
        return original(self, headers=headers, payload=payload)

    monkeypatch.setattr(BespinScheme, "event", event)
    bad_body = body_of({"boom": True})
    batch = [genuine(0), request("acme", bad_body, bespin_headers(SECRET, bad_body)), genuine(1)]
    answers = endpoint._in_thread(endpoint.answer_deliveries, batch)
    assert [answer.status for answer in answers] == [201, 500, 201]
    assert answers[1].data == {"error": "internal server error"}
    assert rejection_counts("acme") == {"internal_error": 1}


@pytest.mark.usefixtures("three_schemes")
def test_huge_timestamps_sent_with_genuine_deliveries_to_a_real_server_each_get_their_own_answer(tmp_path):
    from bespin.testing.processes import Processes

    processes = Processes(tmp_path, BESPIN_WEBHOOK_UNVERIFIED_RATE_PER_MINUTE="0", LOG_LEVEL="WARNING")
    try:
        host, port = processes.web().split(":")

        def post(source: str, body: bytes, headers: dict) -> int:
            connection = http.client.HTTPConnection(host, int(port), timeout=20)
            try:
                connection.request("POST", f"/api/webhooks/{source}", body=body, headers=headers)
                response = connection.getresponse()
                json.loads(response.read())
                return response.status
            finally:
                connection.close()

        sends = []
        for n in range(30):
            body = body_of({"event": "order.paid", "n": n})
            sends.append(("acme", body, bespin_headers(SECRET, body)))
            if n % 3 == 0:
                junk = huge_timestamps(body)
                sends += [(source, body, headers) for source, headers in junk.items()]
            stripe_body = body_of({"id": f"evt_{n}", "type": "charge.succeeded"})
            sends.append(("stripe", stripe_body, stripe_headers(SECRET, stripe_body)))
            standard_body = body_of({"type": "invoice.paid", "n": n})
            sends.append(("standard", standard_body, standard_headers(STANDARD_SECRET, standard_body, msg_id=f"m{n}")))
        # Many at once, so that the server stores them in shared batches.
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda send: post(*send), sends))
        log = "\n".join(processes.log_of(process) for process in processes.running)
    finally:
        processes.stop_all()
    junk_statuses = [status for (_, _, headers), status in zip(sends, statuses, strict=True) if HUGE in str(headers)]
    genuine_statuses = [
        status for (_, _, headers), status in zip(sends, statuses, strict=True) if HUGE not in str(headers)
    ]
    assert junk_statuses == [401] * 30
    assert genuine_statuses == [201] * 90
    assert "Traceback" not in log
    for source in ("acme", "stripe", "standard"):
        assert rejection_counts(source) == {"malformed_signature": 10}
