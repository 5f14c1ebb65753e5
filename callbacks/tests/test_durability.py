"""Callbacks due are kept in PostgreSQL: a worker killed while sending, or Redis flushed while
they wait, loses none (at least once: the receiver deduplicates by webhook-id)."""

import pytest

from bespin.testing.processes import wait_for
from callbacks.models import CallbackAttempt, CallbackDelivery, DeliveryState
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db(transaction=True)


def _state(job) -> str | None:
    return CallbackDelivery.objects.filter(job=job).values_list("state", flat=True).first()


def test_a_callback_whose_worker_was_killed_mid_send_is_sent_by_the_next_worker(processes, receiver, signer):
    owner, secret = signer
    # Long enough that the first send is still waiting for its answer when the worker is killed.
    processes.env["BESPIN_CALLBACK_TIMEOUT"] = "5"
    worker = processes.worker()
    hooks = receiver("--hold-first", secrets=[secret])
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=hooks.url())
    hooks.wait_for_requests(1)
    processes.kill(worker)
    assert _state(job) == DeliveryState.PENDING
    processes.worker()
    wait_for(lambda: _state(job) == DeliveryState.DELIVERED, 30, message="the callback delivered by the new worker")
    first, second = hooks.requests()[:2]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert first["body"] == second["body"] and second["verified_by"] == [0]
    # The killed worker never recorded its attempt; the new one recorded what it got.
    assert [a.status_code for a in CallbackAttempt.objects.filter(delivery__job=job)] == [204]


def test_a_callback_due_while_no_worker_runs_survives_a_redis_flush(processes, receiver, signer, redis_conn):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=hooks.url())
    lifecycle.cancel_job(job=job)  # no worker runs: ended while pending, its callback due
    redis_conn.flushdb()
    processes.worker()
    wait_for(lambda: _state(job) == DeliveryState.DELIVERED, 30, message="the callback delivered")
    assert len(hooks.requests()) == 1


def test_a_callback_waiting_to_be_retried_survives_a_redis_flush(processes, receiver, signer, redis_conn):
    owner, secret = signer
    processes.env["BESPIN_CALLBACK_BACKOFF"] = "2,2"
    processes.worker()
    hooks = receiver("--fail-first", "1", secrets=[secret])
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=hooks.url())
    wait_for(lambda: CallbackAttempt.objects.filter(delivery__job=job).exists(), 30, message="the first attempt")
    redis_conn.flushdb()
    wait_for(lambda: _state(job) == DeliveryState.DELIVERED, 30, message="the retry delivered")
    assert [r["status"] for r in hooks.requests()] == [500, 204]
