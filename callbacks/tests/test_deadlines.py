"""One receiver never holds the senders: each attempt has one wall-clock deadline
(BESPIN_CALLBACK_TIMEOUT) for resolving, connecting, sending and the whole answer, however
slowly the answer trickles in; a worker renews the claims of what it is still sending; and
one owner's callbacks in flight are capped (BESPIN_CALLBACK_OWNER_IN_FLIGHT), across workers."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from bespin.testing.processes import wait_for
from callbacks import deliveries, sender, services, transport
from callbacks.models import CallbackAttempt, CallbackDelivery, DeliveryState
from callbacks.tests.conftest import delivery_of, end_job
from jobs.services import creation


def _ended_job(owner, url):
    # Ended in the transaction that creates it: a running worker, handed the job once it
    # commits, finds it over already.
    with transaction.atomic():
        job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=url)
        end_job(job)
    return job


@pytest.mark.django_db
def test_an_answer_trickling_in_a_byte_at_a_time_ends_at_the_deadline(signer, receiver, settings):
    # Each byte comes well within the timeout, so only a deadline on the whole answer ends it.
    settings.CALLBACK_TIMEOUT = 1
    owner, secret = signer
    hooks = receiver("--trickle", "0.2", secrets=[secret])
    job = _ended_job(owner, hooks.url())
    assert sender.deliver_due() == 1
    attempt = CallbackAttempt.objects.get(delivery__job=job)
    assert (attempt.status_code, attempt.error) == (None, "no answer within 1 s (timed out)")
    assert attempt.duration_ms >= 1000
    assert delivery_of(job).state == DeliveryState.PENDING  # tried again later


@pytest.mark.django_db
def test_a_lookup_that_never_ends_is_given_up_at_the_deadline(signer, monkeypatch, settings):
    settings.CALLBACK_TIMEOUT = 0.5
    owner, _ = signer
    released = threading.Event()

    def hanging(host, port):
        released.wait(30)
        raise OSError("the resolver gave up")

    monkeypatch.setattr(transport, "resolve", hanging)
    try:
        job = _ended_job(owner, "https://hooks.example.com/done")
        assert sender.deliver_due() == 1
    finally:
        released.set()
    attempt = CallbackAttempt.objects.get(delivery__job=job)
    assert attempt.error == "no answer within 0.5 s (resolving hooks.example.com timed out)"


@pytest.mark.django_db
def test_a_claim_is_renewed_while_its_callback_is_in_flight(signer, receiver):
    owner, secret = signer
    job = _ended_job(owner, receiver(secrets=[secret]).url())
    (claimed,) = deliveries.claim_due(limit=10)
    first_lease = delivery_of(job).next_attempt_at
    CallbackDelivery.objects.filter(id=claimed.id).update(next_attempt_at=timezone.now() + timedelta(seconds=1))
    deliveries.renew_claims([claimed.claim])
    renewed = delivery_of(job).next_attempt_at
    assert renewed >= first_lease - timedelta(seconds=1) and renewed > timezone.now() + timedelta(seconds=10)
    # A claim no longer in flight (recorded, or another's) is left as it is.
    deliveries.renew_claims([uuid.uuid4()])
    assert delivery_of(job).next_attempt_at == renewed


@pytest.mark.django_db
def test_a_claim_takes_no_more_of_one_owners_callbacks_than_the_cap(signer, receiver, settings, stranger):
    settings.CALLBACK_OWNER_IN_FLIGHT = 2
    owner, secret = signer
    services.rotate_callback_secret(user=stranger)
    url = receiver(secrets=[secret]).url()
    busy = [_ended_job(owner, url) for _ in range(5)]
    other = _ended_job(stranger, url)
    first = deliveries.claim_due(limit=10)
    assert sorted(str(item.job_id) for item in first) == sorted([str(busy[0].id), str(busy[1].id), str(other.id)])
    # The owner's others were put back behind what else is due, not claimed.
    put_back = CallbackDelivery.objects.filter(job__in=busy[2:])
    assert all(d.claim is None and d.next_attempt_at > timezone.now() for d in put_back)
    # While the owner's two are in flight, a later claim takes none of theirs.
    CallbackDelivery.objects.filter(job__in=busy[2:]).update(next_attempt_at=timezone.now())
    assert deliveries.claim_due(limit=10) == []
    assert CallbackDelivery.objects.filter(job__in=busy[2:], claim=None).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_keeps_one_owners_slow_receivers_to_the_cap_and_sends_the_others(processes, receiver, signer):
    owner, secret = signer
    other = get_user_model().objects.create_user("other", password="other-password-1")
    other_secret = services.rotate_callback_secret(user=other).secret
    slow = receiver("--trickle", "0.1", secrets=[secret])
    fast = receiver(secrets=[other_secret])
    processes.env.update(BESPIN_CALLBACK_TIMEOUT="1", BESPIN_CALLBACK_OWNER_IN_FLIGHT="2",
                         BESPIN_CALLBACK_CONCURRENCY="4")  # fmt: skip
    processes.worker()
    held = [_ended_job(owner, slow.url()) for _ in range(6)]
    wait_for(lambda: len(slow.requests()) >= 2, 20, message="the slow receiver's first requests")
    mine = _ended_job(other, fast.url())
    wait_for(lambda: delivery_of(mine).state == DeliveryState.DELIVERED, 20, message="the other owner's callback")
    wait_for(lambda: len(slow.requests()) >= 6, 40, message="every slow callback tried")
    processes.stop_all()
    # Each attempt ended at its deadline, and never were more than two of the owner's being
    # sent at once: from the attempts' own times, each from its start to its end.
    attempts = CallbackAttempt.objects.filter(delivery__job__in=held)
    assert {attempt.error for attempt in attempts} == {"no answer within 1 s (timed out)"}
    edges = sorted(
        edge for attempt in attempts
        for edge in ((attempt.at, 1), (attempt.at + timedelta(milliseconds=attempt.duration_ms), -1))
    )  # fmt: skip
    at_once = 0
    for _, step in edges:  # at one moment, an end (-1) before a start
        at_once += step
        assert at_once <= 2
