"""A delivery id is stored once per source: a redelivery answers 200 with the first receipt,
also when two identical deliveries arrive at the same instant."""

import asyncio
import json

import pytest

from bespin.testing.threads import at_once
from jobs.models import Job
from webhooks import endpoint, receipts, sources, verification
from webhooks.config import TriggerRule
from webhooks.headers import Headers
from webhooks.models import WebhookReceipt
from webhooks.tests.conftest import LIVE_SECRET, asgi_post
from webhooks.tests.signing import bespin_headers, body_of

SECRET = "dedup-secret"


@pytest.mark.django_db
def test_redelivery_is_200_with_the_first_receipt_and_stores_nothing_twice(make_source, deliver):
    make_source("acme", secrets=[SECRET])
    body = body_of({"event": "once"})
    first = deliver("acme", body, bespin_headers(SECRET, body))
    again = deliver("acme", body, bespin_headers(SECRET, body))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() | {"duplicate": True}
    assert WebhookReceipt.objects.count() == 1


@pytest.mark.django_db
def test_same_delivery_to_two_sources_is_two_receipts(make_source, deliver):
    make_source("acme", secrets=[SECRET])
    make_source("other", secrets=[SECRET])
    body = body_of({"event": "twice"})
    deliver("acme", body, bespin_headers(SECRET, body))
    deliver("other", body, bespin_headers(SECRET, body))
    assert WebhookReceipt.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_identical_deliveries_at_the_same_instant_store_one_receipt_and_one_job(make_source):
    """Each round sends the same delivery from two threads released together by a barrier;
    a trigger makes the first insert hold its transaction open while it creates the job."""
    source = make_source("acme", secrets=[SECRET])
    sources.set_trigger(source=source, event_pattern="race.*", job_kind="sleep", params={"seconds": 0})
    rounds = 8
    for number in range(rounds):
        body = body_of({"event": "race.round", "n": number})

        def send(body=body):
            # Each thread is a server loop of its own: two batches stored at once.
            status, _, answer, _ = asyncio.run(asgi_post("/api/webhooks/acme", [body], bespin_headers(SECRET, body)))
            return status, json.loads(answer)

        results = at_once(send, 2)
        assert sorted(status for status, _ in results) == [200, 201], results
        assert results[0][1]["id"] == results[1][1]["id"]
        assert results[0][1]["job_id"] == results[1][1]["job_id"] is not None
    assert WebhookReceipt.objects.count() == rounds
    assert Job.objects.count() == rounds


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_deliveries_over_daphne_store_one_receipt(live_daphne):
    host, port = live_daphne

    async def post(body: bytes) -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(host, port)
        head = "".join(f"{name}: {value}\r\n" for name, value in bespin_headers(LIVE_SECRET, body).items())
        writer.write(
            f"POST /api/webhooks/live HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        response = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
        return int(response.split()[1]), response.split(b"\r\n\r\n", 1)[1]

    async def rounds():
        outcomes = []
        for number in range(10):
            body = body_of({"event": "race", "n": number})
            outcomes.append(await asyncio.gather(*(post(body) for _ in range(4))))
        return outcomes

    for outcome in asyncio.run(rounds()):
        statuses = sorted(status for status, _ in outcome)
        assert statuses == [200, 200, 200, 201], outcome
        assert len({answer.split(b'"id": "')[1][:36] for _, answer in outcome}) == 1
    assert WebhookReceipt.objects.count() == 10


@pytest.mark.django_db
def test_batch_with_the_same_delivery_twice_stores_it_once():
    """The ingress stores deliveries that arrive together as one batch; one that is in it twice
    is stored once, and its second copy answered as a redelivery."""
    rule = TriggerRule.build(pattern="job.*", job_kind="sleep", params={"seconds": 0})
    plain = verification.Delivery("acme", "plain", "d-1", {"n": 1}, {})
    triggered = verification.Delivery("acme", "job.start", "d-2", {"n": 2}, {}, rule)
    other = verification.Delivery("acme", "plain", "d-3", {"n": 3}, {})
    answers = receipts.record_deliveries(deliveries=[plain, triggered, plain, triggered, other])
    assert [answer.created for answer in answers] == [True, True, False, False, True]
    assert answers[0].receipt_id == answers[2].receipt_id
    assert answers[1].job_id == answers[3].job_id is not None
    assert (WebhookReceipt.objects.count(), Job.objects.count()) == (3, 1)
    again = receipts.record_deliveries(deliveries=[plain, triggered])
    assert [(answer.created, answer.receipt_id) for answer in again] == [
        (False, answers[0].receipt_id), (False, answers[1].receipt_id)
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_delivery_to_a_cached_source_costs_one_query(make_source, django_assert_num_queries):
    # What the ingress's thread runs for a batch, run here so that this connection counts it.
    make_source("acme", secrets=[SECRET], rate_per_minute=0)

    def answer(payload: dict) -> int:
        body = body_of(payload)
        request = {"source_name": "acme", "headers": Headers(bespin_headers(SECRET, body).items()), "body": body}
        return endpoint.answer_deliveries([request])[0].status

    answer({"event": "warm"})  # loads the source's configuration
    with django_assert_num_queries(1):  # the INSERT … ON CONFLICT … RETURNING
        assert answer({"event": "hot"}) == 201
    with django_assert_num_queries(1):
        assert answer({"event": "hot"}) == 200
