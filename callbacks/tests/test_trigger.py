"""A callback is due from the transaction that ends its job, whatever ended it, and only then."""

import psycopg
import pytest
from django.db import connection, transaction

from bespin.testing.processes import database_url_for_tests
from callbacks.models import CallbackDelivery, DeliveryState
from callbacks.services import NOTIFY_CHANNEL
from callbacks.tests.conftest import end_job
from jobs.models import Job, JobStatus
from jobs.services import creation, lifecycle

HOOK = "https://hooks.example.com/bespin"


def _job(owner, callback_url=HOOK):
    return creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=callback_url)


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_a_job_that_ends_has_its_callback_due(signer, status):
    job = _job(signer[0])
    end_job(job, status)
    delivery = CallbackDelivery.objects.get(job=job)
    assert (delivery.job_attempt, delivery.job_status, delivery.url) == (1, status, HOOK)
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 0
    assert delivery.webhook_id == "msg_" + delivery.id.hex


@pytest.mark.django_db
def test_a_job_without_a_callback_or_still_running_has_none(signer):
    plain = _job(signer[0], callback_url="")
    end_job(plain)
    running = lifecycle.start_job(job_id=_job(signer[0]).id)
    lifecycle.set_progress(job=running, percent=50)
    assert not CallbackDelivery.objects.exists()


@pytest.mark.django_db
def test_a_bulk_update_that_ends_jobs_makes_one_callback_each(signer):
    jobs = [_job(signer[0]) for _ in range(3)]
    Job.objects.filter(id__in=[job.id for job in jobs]).update(status=JobStatus.CANCELLED)
    assert CallbackDelivery.objects.filter(job_status="cancelled").count() == 3


@pytest.mark.django_db
def test_each_attempt_that_ends_is_its_own_event(signer):
    job = _job(signer[0])
    end_job(job, "failed")
    job.refresh_from_db()
    lifecycle.retry_job(job=job)
    end_job(job)
    events = CallbackDelivery.objects.filter(job=job).order_by("job_attempt")
    assert [(d.job_attempt, d.job_status) for d in events] == [(1, "failed"), (2, "completed")]
    assert len({d.webhook_id for d in events}) == 2


@pytest.mark.django_db
def test_an_end_rolled_back_leaves_no_callback(signer):
    job = _job(signer[0])
    with pytest.raises(RuntimeError), transaction.atomic():
        end_job(job)
        assert CallbackDelivery.objects.filter(job=job).exists()
        raise RuntimeError("the transaction that ended the job failed")
    assert not CallbackDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_senders_are_notified_when_the_end_commits(signer):
    job = _job(signer[0])
    with psycopg.connect(database_url_for_tests(), autocommit=True) as listening:
        listening.execute(f"LISTEN {NOTIFY_CHANNEL}")
        with transaction.atomic():
            end_job(job)
            assert not list(listening.notifies(timeout=0.2)), "notified before the commit"
        notes = list(listening.notifies(timeout=10, stop_after=1))
    assert [note.channel for note in notes] == [NOTIFY_CHANNEL]
    connection.close()
