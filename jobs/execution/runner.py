"""Running one job in a worker: start it, call its kind's handler with a progress callback,
store the outcome. Every state change goes through jobs.services.lifecycle."""

import logging
import time

from django.db import DatabaseError
from rq.timeouts import JobTimeoutException

from jobs import kinds
from jobs.models import Job, JobStatus
from jobs.services import lifecycle

log = logging.getLogger("bespin.jobs")

# A progress report writes a row; more often than this it would cost more than the work.
PROGRESS_INTERVAL = 0.25


class JobCancelled(Exception):
    """Raised inside a handler when its job stopped running (cancelled, or taken over)."""


class ProgressReporter:
    """The `progress` callback handed to a handler: writes at most every PROGRESS_INTERVAL,
    and raises JobCancelled once the job is no longer running (the cancel check)."""

    def __init__(self, job: Job):
        self.job = job
        self.last_write = time.monotonic()

    def __call__(self, percent: int) -> None:
        percent = max(0, min(99, int(percent)))
        now = time.monotonic()
        if now - self.last_write < PROGRESS_INTERVAL:
            return
        self.last_write = now
        if percent == self.job.progress:
            if not Job.objects.filter(id=self.job.id, attempt=self.job.attempt, status=JobStatus.RUNNING).exists():
                raise JobCancelled
        elif not lifecycle.set_progress(job=self.job, percent=percent):
            raise JobCancelled


def run_job(*, job_id, attempt: int | None = None, worker_name: str = "") -> Job | None:
    """Run one job in this process; None when it was not pending in that attempt any more.
    A failure of a kind with retries left is run again later, with exponential backoff."""
    job = lifecycle.start_job(job_id=job_id, attempt=attempt, worker_name=worker_name)
    if job is None:
        return None
    job_kind = kinds.get_kind(job.type)
    if job_kind is None:
        lifecycle.fail_job(job=job, error=f"unknown job type {job.type!r}")
        return job
    try:
        result = job_kind.handler(job.params, ProgressReporter(job))
    except JobCancelled:
        log.info("job_stopped job=%s attempt=%s: no longer running, result dropped", job.id, job.attempt)
        return job
    except JobTimeoutException:
        _fail_or_retry(job, job_kind, f"timed out after {job_kind.timeout} s")
        return job
    except Exception as exc:
        _fail_or_retry(job, job_kind, describe(exc))
        return job
    try:
        lifecycle.complete_job(job=job, result=result)
    except (TypeError, ValueError, DatabaseError) as exc:
        # Not JSON, or refused by PostgreSQL (a NUL character in jsonb). If even this write
        # fails, the job stays running on a live worker that no longer runs it, which the
        # recovery sweep sees in the worker's heartbeat.
        lifecycle.fail_job(job=job, error=f"result could not be stored: {describe(exc)}")
    return job


def _fail_or_retry(job: Job, job_kind: kinds.JobKind, error: str) -> None:
    if job.attempt <= job_kind.max_retries:
        delay = job_kind.retry_backoff * 2 ** (job.attempt - 1)
        if lifecycle.requeue_job(job=job, error=f"attempt {job.attempt} failed: {error}", delay=delay):
            return
    lifecycle.fail_job(job=job, error=error)


def describe(exc: BaseException) -> str:
    # PostgreSQL text cannot hold NUL, and an exception message may.
    message = str(exc).replace("\x00", "\\x00")
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
