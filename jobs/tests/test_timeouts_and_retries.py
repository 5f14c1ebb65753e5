import time
from datetime import UTC, datetime, timedelta

import pytest
from rq.registry import ScheduledJobRegistry

from jobs.execution.queue import rq_job_id
from jobs.models import Job, JobStatus
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)
CALLS = []


def _slow(params, progress):
    CALLS.append("started")
    time.sleep(10)  # ten times the kind's timeout
    CALLS.append("returned")
    return "too late"


def _flaky(params, progress):
    CALLS.append("called")
    if len(CALLS) < 3:
        raise ConnectionError(f"upstream down (call {len(CALLS)})")
    return "third time lucky"


def test_a_job_over_its_kinds_timeout_fails_with_a_clear_error(register_kind, run_worker):
    CALLS.clear()
    register_kind("slow", _slow, timeout=1)
    job = creation.create_job(kind="slow", params={})
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.error, job.result) == (JobStatus.FAILED, "timed out after 1 s", None)
    assert CALLS == ["started"]  # stopped in the middle of the handler, not after it returned


def test_a_kind_with_retries_runs_again_until_it_succeeds(register_kind, run_worker):
    CALLS.clear()
    register_kind("flaky", _flaky, max_retries=3, retry_backoff=0)
    job = creation.create_job(kind="flaky", params={})
    for _ in range(3):
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt, job.result) == (JobStatus.COMPLETED, 3, "third time lucky")


def test_retries_stop_at_the_kinds_limit(register_kind, run_worker):
    CALLS.clear()
    register_kind("flaky", _flaky, max_retries=1, retry_backoff=0)
    job = creation.create_job(kind="flaky", params={})
    for _ in range(3):
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.FAILED, 2)
    assert job.error == "ConnectionError: upstream down (call 2)"
    assert len(CALLS) == 2


def test_a_retry_waits_out_its_backoff_in_rqs_schedule(register_kind, run_worker, queue):
    CALLS.clear()
    register_kind("flaky", _flaky, max_retries=3, retry_backoff=30)
    job = creation.create_job(kind="flaky", params={})
    before = datetime.now(UTC)
    run_worker()
    after = datetime.now(UTC)
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.PENDING, 2)
    assert job.error == "attempt 1 failed: ConnectionError: upstream down (call 1)"
    registry = ScheduledJobRegistry(queue=queue)
    assert registry.get_job_ids() == [rq_job_id(job)]
    assert queue.count == 0  # not on the queue itself until then
    # Scheduled the backoff (30 s for a first retry) after the attempt failed, which was
    # while the worker ran; RQ keeps the time to the whole second.
    scheduled = registry.get_scheduled_time(rq_job_id(job))
    backoff = timedelta(seconds=30)
    assert (before + backoff).replace(microsecond=0) <= scheduled <= after + backoff
    assert Job.objects.get(id=job.id).status == JobStatus.PENDING
