"""A queue entry is for one attempt: an entry left over from attempt n (a lost cancel, a
re-enqueue that raced the worker) never starts attempt n + 1."""

import pytest

from jobs.execution import queue, runner
from jobs.models import JobStatus
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db(transaction=True)


def _retried_twice():
    job = creation.create_job(kind="random_text", params={"length": 3})
    lifecycle.cancel_job(job=job)
    lifecycle.retry_job(job=job)
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.PENDING, 2)
    return job


def test_an_entry_of_an_earlier_attempt_does_not_start_the_job(run_worker, redis_conn):
    job = _retried_twice()
    redis_conn.flushdb()  # the retry's own entry gone: only the stale one is left
    queue.rq_queue().enqueue(queue.TASK, str(job.id), 1)
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt, job.started_at) == (JobStatus.PENDING, 2, None)


def test_the_entry_of_the_current_attempt_runs_it(run_worker):
    job = _retried_twice()
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.COMPLETED, 2)


def test_starting_by_id_and_attempt_claims_only_that_attempt():
    job = _retried_twice()
    assert runner.run_job(job_id=job.id, attempt=1) is None
    assert runner.run_job(job_id=job.id, attempt=2).status == JobStatus.COMPLETED
