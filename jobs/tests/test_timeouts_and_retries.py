import time

import pytest
from rq.registry import ScheduledJobRegistry

from jobs import lifecycle
from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)
CALLS = []


def _slow(params, progress):
    time.sleep(5)
    return "too late"


def _flaky(params, progress):
    CALLS.append(time.monotonic())
    if len(CALLS) < 3:
        raise ConnectionError(f"upstream down (call {len(CALLS)})")
    return "third time lucky"


def test_a_job_over_its_kinds_timeout_fails_with_a_clear_error(register_kind, run_worker):
    register_kind("slow", _slow, timeout=1)
    job = lifecycle.create_job(kind="slow", params={})
    started = time.monotonic()
    run_worker()
    job.refresh_from_db()
    assert time.monotonic() - started < 4
    assert (job.status, job.error) == (JobStatus.FAILED, "timed out after 1 s")


def test_a_kind_with_retries_runs_again_until_it_succeeds(register_kind, run_worker):
    CALLS.clear()
    register_kind("flaky", _flaky, max_retries=3, retry_backoff=0)
    job = lifecycle.create_job(kind="flaky", params={})
    for _ in range(3):
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt, job.result) == (JobStatus.COMPLETED, 3, "third time lucky")


def test_retries_stop_at_the_kinds_limit(register_kind, run_worker):
    CALLS.clear()
    register_kind("flaky", _flaky, max_retries=1, retry_backoff=0)
    job = lifecycle.create_job(kind="flaky", params={})
    for _ in range(3):
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.FAILED, 2)
    assert job.error == "ConnectionError: upstream down (call 2)"
    assert len(CALLS) == 2


def test_a_retry_waits_out_its_backoff_in_rqs_schedule(register_kind, run_worker, queue):
    CALLS.clear()
    register_kind("flaky", _flaky, max_retries=3, retry_backoff=30)
    job = lifecycle.create_job(kind="flaky", params={})
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.PENDING, 2)
    assert job.error == "attempt 1 failed: ConnectionError: upstream down (call 1)"
    registry = ScheduledJobRegistry(queue=queue)
    assert registry.get_job_ids() == [queue.rq_job_id(job)]
    wait = registry.get_scheduled_time(queue.rq_job_id(job)).timestamp() - time.time()
    assert 25 < wait <= 30
    assert Job.objects.get(id=job.id).status == JobStatus.PENDING
