"""The ingress answers deliveries and hands everything else, including a delivery for a host
that is not allowed, to Django."""

import asyncio
import json

import pytest

from webhooks.models import WebhookReceipt
from webhooks.tests.conftest import asgi_post
from webhooks.tests.signing import bespin_headers, body_of

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "ingress-secret"


@pytest.fixture(autouse=True)
def environment_source(settings):
    settings.WEBHOOK_SECRETS = {"acme": [SECRET]}


def _post(path, body, headers, **options):
    status, response_headers, answer, _ = asyncio.run(asgi_post(path, [body], headers, **options))
    return status, response_headers, json.loads(answer) if answer.startswith(b"{") else answer


def test_ingress_answers_429_with_retry_after(settings):
    settings.WEBHOOK_RATE_PER_MINUTE = 1
    answers = []
    for number in range(2):
        body = body_of({"n": number})
        answers.append(_post("/api/webhooks/acme", body, bespin_headers(SECRET, body)))
    assert [status for status, _, _ in answers] == [201, 429]
    assert int(answers[1][1][b"retry-after"]) >= 1


def test_redelivery_through_the_ingress_is_200_with_the_first_id():
    body = body_of({"event": "e"})
    first = _post("/api/webhooks/acme", body, bespin_headers(SECRET, body))
    again = _post("/api/webhooks/acme", body, bespin_headers(SECRET, body))
    assert (first[0], again[0]) == (201, 200)
    assert first[2]["id"] == again[2]["id"]
    assert WebhookReceipt.objects.count() == 1


def test_request_for_a_host_that_is_not_allowed_is_left_to_django():
    body = body_of({"event": "e"})
    status, _, _ = _post("/api/webhooks/acme", body, bespin_headers(SECRET, body), host="evil.example")
    assert status == 400
    assert not WebhookReceipt.objects.exists()


def test_get_of_a_receipt_is_left_to_django_and_needs_staff():
    status, _, answer = _post("/api/webhooks/00000000-0000-0000-0000-000000000000", b"", {}, method="GET")
    assert status in (401, 403)
    assert "sign in" in answer["error"]


def test_trigger_through_the_ingress_starts_and_enqueues_its_job(make_source, queue):
    from jobs.models import Job
    from webhooks import sources

    source = make_source("shop", secrets=[SECRET])
    sources.set_trigger(source=source, event_pattern="order.*", job_kind="sleep", params={"seconds": 0})
    body = body_of({"event": "order.paid"})
    status, _, answer = _post("/api/webhooks/shop", body, bespin_headers(SECRET, body))
    assert status == 201
    job = Job.objects.get(id=answer["job_id"])
    assert WebhookReceipt.objects.get(id=answer["id"]).job == job
    assert any(str(job.id) in queued for queued in queue.job_ids)


@pytest.mark.parametrize("length", ["²", "-1", "1e3", " ", "0x10", "١٢"])
def test_odd_content_length_is_no_error(length):
    body = body_of({"event": "e", "length": length})
    status, _, _, _ = asyncio.run(
        asgi_post("/api/webhooks/acme", [body], bespin_headers(SECRET, body) | {"content-length": length})
    )
    assert status == 201
