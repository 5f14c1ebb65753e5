from datetime import timedelta

import pytest
from django.utils import timezone

from bespin.testing import tasks
from jobs.execution import clock
from jobs.models import JobStatus
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db(transaction=True)
CALLS = tasks.CALLS


def test_a_job_over_its_kinds_timeout_fails_with_a_clear_error(register_task, run_worker):
    CALLS.clear()
    register_task(tasks.slow, "slow", timeout=1)
    job = creation.create_job(kind="slow", params={})
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.error, job.result) == (JobStatus.FAILED, "timed out after 1 s", None)
    assert CALLS == ["started"]  # stopped in the middle of the handler, not after it returned


def test_a_kind_with_retries_runs_again_until_it_succeeds(register_task, run_worker):
    CALLS.clear()
    register_task(tasks.flaky, "flaky", retries=3, backoff=0)
    job = creation.create_job(kind="flaky", params={})
    for _ in range(3):
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt, job.result) == (JobStatus.COMPLETED, 3, "third time lucky")


def test_retries_stop_at_the_kinds_limit(register_task, run_worker):
    CALLS.clear()
    register_task(tasks.flaky, "flaky", retries=1, backoff=0)
    job = creation.create_job(kind="flaky", params={})
    for _ in range(3):
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.FAILED, 2)
    assert job.error == "ConnectionError: upstream down (call 2)"
    assert len(CALLS) == 2


def test_a_retry_waits_out_its_backoff_scheduled_in_postgresql_then_runs(register_task, run_worker, queue):
    CALLS.clear()
    register_task(tasks.flaky, "flaky", retries=3, backoff=30)
    job = creation.create_job(kind="flaky", params={})
    before = timezone.now()
    run_worker()
    after = timezone.now()
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.SCHEDULED, 2)
    assert job.error == "attempt 1 failed: ConnectionError: upstream down (call 1)"
    # The backoff (30 s for a first retry) from when the attempt failed, while the worker ran.
    assert before + timedelta(seconds=30) <= job.run_at <= after + timedelta(seconds=30)
    assert queue.count == 0 and not queue.connection.keys("rq:job:*")  # nothing waits in Redis
    assert clock.run_clock().promoted == 0
    # The clock's promotion, as when the time comes (the clock runs on the database's rows).
    assert lifecycle.promote_due_jobs(now=job.run_at) == [job]
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt, len(CALLS)) == (JobStatus.SCHEDULED, 3, 2)
    assert job.run_at - after >= timedelta(seconds=60)  # the second backoff is twice the first
