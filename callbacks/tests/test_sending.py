"""Sending a callback to a real receiver process, from this process (callbacks.sender's
deliver_due, what each worker's sender does a batch at a time): the body, the headers, and
what each answer does to the delivery."""

import json

import pytest

from callbacks import sender
from callbacks.models import CallbackAttempt, DeliveryState
from callbacks.tests.conftest import delivery_of, end_job
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db


def _ended_job(owner, url, status="completed"):
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=url)
    end_job(job, status)
    job.refresh_from_db()
    return job


def _send_until_settled(job, rounds: int = 10):
    for _ in range(rounds):
        sender.deliver_due()
        delivery = delivery_of(job)
        if delivery.state != DeliveryState.PENDING:
            return delivery
    return delivery_of(job)


def test_the_body_is_the_job_resource_as_the_api_answers_it(api, signer, receiver, settings):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    job = _ended_job(owner, hooks.url())
    assert sender.deliver_due() == 1
    (request,) = hooks.requests()
    assert json.loads(request["body"]) == api.get(f"/api/jobs/{job.id}").json()
    assert request["path"] == "/hooks/bespin?source=tests"
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["host"] == f"127.0.0.1:{hooks.port}"
    assert request["headers"]["webhook-id"] == delivery_of(job).webhook_id
    assert request["verified_by"] == [0]


def test_a_2xx_answer_delivers_it_and_the_attempt_is_recorded(signer, receiver):
    owner, secret = signer
    hooks = receiver("--status", "202", "--body", "thanks", secrets=[secret])
    job = _ended_job(owner, hooks.url(), "failed")
    delivery = _send_until_settled(job)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 1)
    assert delivery.finished_at is not None
    (attempt,) = CallbackAttempt.objects.filter(delivery=delivery)
    assert (attempt.status_code, attempt.response, attempt.error) == (202, "thanks", "")
    assert sender.deliver_due() == 0  # nothing more is due


def test_failed_answers_are_retried_with_the_same_id_and_body_until_one_succeeds(signer, receiver):
    owner, secret = signer
    hooks = receiver("--fail-first", "2", secrets=[secret])
    job = _ended_job(owner, hooks.url())
    delivery = _send_until_settled(job)
    requests = hooks.requests()
    assert [r["status"] for r in requests] == [500, 500, 204]
    assert len({r["headers"]["webhook-id"] for r in requests}) == 1
    assert len({r["body"] for r in requests}) == 1
    assert all(r["verified_by"] == [0] for r in requests)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 3)
    attempts = list(CallbackAttempt.objects.filter(delivery=delivery))
    assert [a.status_code for a in attempts] == [500, 500, 204]
    assert attempts[0].error == "answered 500" and attempts[0].response == "attempt 1: 500"


def test_the_body_of_the_first_attempt_is_kept_for_the_retries(signer, receiver):
    owner, secret = signer
    hooks = receiver("--fail-first", "1", secrets=[secret])
    job = _ended_job(owner, hooks.url(), "failed")
    sender.deliver_due()
    job.refresh_from_db()
    lifecycle.retry_job(job=job)  # the job moves on before the retry of its first end
    _send_until_settled(job)
    first, second = hooks.requests()[:2]
    assert first["body"] == second["body"] and json.loads(second["body"])["status"] == "failed"


def test_when_the_schedule_is_used_up_the_callback_has_failed(signer, receiver, settings):
    settings.CALLBACK_BACKOFF = (0.0, 0.0)
    owner, secret = signer
    hooks = receiver("--status", "503", secrets=[secret])
    job = _ended_job(owner, hooks.url())
    delivery = _send_until_settled(job)
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 3)
    assert len(hooks.requests()) == 3


def test_410_gone_stops_at_once(signer, receiver):
    owner, secret = signer
    hooks = receiver("--status", "410", secrets=[secret])
    job = _ended_job(owner, hooks.url())
    delivery = _send_until_settled(job)
    assert (delivery.state, delivery.attempts) == (DeliveryState.GONE, 1)
    assert "410 Gone" in CallbackAttempt.objects.get(delivery=delivery).error
    assert len(hooks.requests()) == 1


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(signer, receiver, settings):
    settings.CALLBACK_TIMEOUT = 0.5
    owner, secret = signer
    hooks = receiver("--sleep", "3", secrets=[secret])
    job = _ended_job(owner, hooks.url())
    sender.deliver_due()
    delivery = delivery_of(job)
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    attempt = CallbackAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert attempt.error == "no answer within 0.5 s (timed out)"
    assert attempt.duration_ms >= 500


def test_redirects_are_not_followed(signer, receiver):
    owner, secret = signer
    elsewhere = receiver(secrets=[secret])
    hooks = receiver("--status", "302", "--location", elsewhere.url("/moved"), secrets=[secret])
    job = _ended_job(owner, hooks.url())
    sender.deliver_due()
    attempt = CallbackAttempt.objects.get(delivery=delivery_of(job))
    assert attempt.status_code == 302
    assert "redirect" in attempt.error and "not followed" in attempt.error and "/moved" in attempt.error
    assert elsewhere.requests() == []
    assert delivery_of(job).state == DeliveryState.PENDING  # retried, as any other non-2xx


def test_only_the_first_kib_of_the_answer_is_kept(signer, receiver):
    owner, secret = signer
    hooks = receiver("--status", "200", "--body", "é" * 2000, secrets=[secret])
    job = _ended_job(owner, hooks.url())
    sender.deliver_due()
    attempt = CallbackAttempt.objects.get(delivery=delivery_of(job))
    assert len(attempt.response.encode()) <= 1024 + 3 and attempt.response.startswith("é" * 500)


def test_an_owner_without_a_secret_gets_a_failed_attempt_saying_so(signer, receiver):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    job = _ended_job(owner, hooks.url())
    owner.callback_secret.delete()
    sender.deliver_due()
    attempt = CallbackAttempt.objects.get(delivery=delivery_of(job))
    assert attempt.status_code is None and "no callback signing secret" in attempt.error
    assert hooks.requests() == []


def test_during_a_rotation_both_secrets_sign_and_the_receiver_may_use_either(signer, receiver):
    from callbacks import services

    owner, old = signer
    new = services.rotate_callback_secret(user=owner).secret
    hooks = receiver(secrets=[old, new])
    _ended_job(owner, hooks.url())
    sender.deliver_due()
    (request,) = hooks.requests()
    assert request["verified_by"] == [0, 1]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2


@pytest.mark.parametrize("http10", [False, True])
def test_callbacks_in_a_row_to_one_receiver_are_all_delivered(signer, receiver, http10):
    # HTTP/1.1 receivers keep the connection for the next callback; HTTP/1.0 ones close it.
    owner, secret = signer
    hooks = receiver(*(["--http10", "--status", "200"] if http10 else []), secrets=[secret])
    jobs = [_ended_job(owner, hooks.url()) for _ in range(3)]
    for _ in jobs:
        assert sender.deliver_due(limit=1) == 1
    assert [delivery_of(job).state for job in jobs] == [DeliveryState.DELIVERED] * 3
    assert all(r["verified_by"] == [0] for r in hooks.requests())
