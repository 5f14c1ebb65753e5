"""Running one job in a worker: start it, call its task's function with the job's parameters
(and its context, with progress reports and the cancel check), store the outcome. Every state
change goes through jobs.services.lifecycle; Django's task_started and task_finished are sent
around the run."""

import asyncio
import logging
import time
import traceback

from django.db import DatabaseError
from django.utils import timezone
from rq.timeouts import JobTimeoutException

from jobs import backend, registry
from jobs.compat import task_finished, task_started
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
    A failure of a task with retries left is run again later, with exponential backoff."""
    job = lifecycle.start_job(job_id=job_id, attempt=attempt, worker_name=worker_name)
    if job is None:
        return None
    job_kind = registry.get_kind(job.type)
    if job_kind is None:
        lifecycle.fail_job(job=job, error=f"{job.type!r} is no task loaded here (is its app in BESPIN_APPS?)")
        return job
    task_result = backend.result_of(job, job_kind.task)
    task_started.send(type(job_kind.task.get_backend()), task_result=task_result)
    try:
        result = _call(job_kind, job, task_result)
    except JobCancelled:
        log.info("job_stopped job=%s attempt=%s: no longer running, result dropped", job.id, job.attempt)
        return job
    except JobTimeoutException as exc:
        _fail_or_retry(job, job_kind, f"timed out after {job_kind.timeout} s", exc)
    except Exception as exc:
        _fail_or_retry(job, job_kind, describe(exc), exc)
    else:
        try:
            lifecycle.complete_job(job=job, result=result)
        except (TypeError, ValueError, DatabaseError) as exc:
            # Not JSON, or refused by PostgreSQL (a NUL character in jsonb). If even this write
            # fails, the job stays running on a live worker that no longer runs it, which the
            # recovery sweep sees in the worker's heartbeat.
            lifecycle.fail_job(job=job, error=f"result could not be stored: {describe(exc)}", errors=_with(job, exc))
    if job.is_final:
        task_finished.send(type(job_kind.task.get_backend()), task_result=backend.result_of(job, job_kind.task))
    return job


def _call(job_kind: registry.JobKind, job: Job, task_result):
    """Call the task's function with the job's parameters (and its context, if it takes one);
    a coroutine function runs to its end on an event loop of its own."""
    function = job_kind.function
    args = ()
    if job_kind.task.takes_context:
        context = backend.BespinTaskContext(
            task_result=task_result, job_id=job.id, owner_id=job.owner_id, report=ProgressReporter(job)
        )
        args = (context,)
    if job_kind.is_async:
        return asyncio.run(function(*args, **job.params))
    return function(*args, **job.params)


def _with(job: Job, exc: BaseException) -> list:
    """The job's errors with this attempt's: its exception's class and whole traceback."""
    record = {
        "attempt": job.attempt,
        "exception_class_path": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "traceback": "".join(traceback.format_exception(exc)).replace("\x00", "\\x00"),
        "worker": job.worker_name,
        "at": timezone.now().isoformat(),
    }
    return [*(job.errors or []), record]


def _fail_or_retry(job: Job, job_kind: registry.JobKind, error: str, exc: BaseException) -> None:
    log.error("job_error job=%s kind=%s attempt=%s: %s", job.id, job.type, job.attempt, error, exc_info=exc)
    errors = _with(job, exc)
    if job.attempt <= job_kind.max_retries:
        delay = job_kind.retry_backoff * 2 ** (job.attempt - 1)
        if lifecycle.requeue_job(job=job, error=f"attempt {job.attempt} failed: {error}", delay=delay, errors=errors):
            return
    lifecycle.fail_job(job=job, error=error, errors=errors)


def describe(exc: BaseException) -> str:
    # PostgreSQL text cannot hold NUL, and an exception message may.
    message = str(exc).replace("\x00", "\\x00")
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
