"""Every change to a job happens here: the API, the dashboard, the worker and the management
commands all call these functions, and each change is published to the job's watchers.

Status changes are conditional UPDATEs (`WHERE status = …`), so two workers never both run
one job and a late message from a cancelled or lost run never overwrites a newer state.
"""

import logging
import time
from functools import partial

import django_rq
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from jobs import events, kinds
from jobs.models import Job, JobStatus

log = logging.getLogger("bespin.jobs")

QUEUE_NAME = "default"
# A progress report writes a row; more often than this it would cost more than the work.
PROGRESS_INTERVAL = 0.25


class JobCancelled(Exception):
    """Raised inside a handler when its job stopped running (cancelled, or taken over)."""


def validate_params(*, kind: str, params) -> tuple[kinds.JobKind, dict]:
    """Check `params` with the kind's serializer; raises serializers.ValidationError."""
    job_kind = kinds.get_kind(kind)
    if job_kind is None:
        raise serializers.ValidationError({"type": [f"unknown job type {kind!r}; known: {', '.join(kinds.KINDS)}"]})
    if not isinstance(params, dict):
        raise serializers.ValidationError({"params": ["must be a JSON object"]})
    serializer = job_kind.params_serializer(data=params)
    if not serializer.is_valid():
        raise serializers.ValidationError({"params": serializer.errors})
    return job_kind, dict(serializer.validated_data)


def _log_change(job: Job, **extra) -> None:
    fields = {
        "job": job.id,
        "kind": job.type,
        "status": job.status,
        "attempt": job.attempt,
        "duration": f"{job.duration:.3f}" if job.duration is not None else None,
        "worker": job.worker_name or None,
        **extra,
    }
    log.info("job_change %s", " ".join(f"{k}={v}" for k, v in fields.items() if v is not None))


def enqueue_job(job: Job) -> None:
    """Put the job on the RQ queue. A failure here leaves the job `pending` in PostgreSQL,
    where the recovery sweep finds it and enqueues it again."""
    job_kind = kinds.get_kind(job.type)
    try:
        django_rq.get_queue(QUEUE_NAME).enqueue(
            "jobs.tasks.run_job",
            str(job.id),
            job_id=str(job.id),
            job_timeout=job_kind.timeout if job_kind else 600,
            result_ttl=0,
            failure_ttl=24 * 3600,
        )
    except Exception:
        log.exception("enqueue failed job=%s; the recovery sweep will enqueue it again", job.id)


@transaction.atomic
def create_job(*, kind: str, params, owner=None) -> Job:
    """Create a pending job of `kind` and enqueue it once the row is committed."""
    job_kind, clean_params = validate_params(kind=kind, params=params)
    job = Job.objects.create(type=job_kind.name, params=clean_params, owner=owner if owner and owner.pk else None)
    _log_change(job)
    transaction.on_commit(partial(enqueue_job, job))
    transaction.on_commit(partial(events.publish, job))
    return job


def _transition(job: Job, *, allowed: tuple[str, ...], **changes) -> bool:
    """Apply `changes` if the job is still in an allowed status of the same attempt."""
    updated = Job.objects.filter(id=job.id, attempt=job.attempt, status__in=allowed).update(**changes)
    if not updated:
        return False
    for field, value in changes.items():
        setattr(job, field, value)
    _log_change(job)
    events.publish(job)
    return True


def start_job(*, job_id, worker_name: str = "") -> Job | None:
    """Move a pending job to running; None when it is not pending any more."""
    started_at = timezone.now()
    updated = Job.objects.filter(id=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING, started_at=started_at, finished_at=None, progress=0, worker_name=worker_name
    )
    if not updated:
        return None
    job = Job.objects.get(id=job_id)
    _log_change(job)
    events.publish(job)
    return job


def complete_job(*, job: Job, result) -> bool:
    return _transition(
        job,
        allowed=(JobStatus.RUNNING,),
        status=JobStatus.COMPLETED,
        progress=100,
        result=result,
        error="",
        finished_at=timezone.now(),
    )


def fail_job(*, job: Job, error: str, allowed=(JobStatus.RUNNING,)) -> bool:
    return _transition(job, allowed=allowed, status=JobStatus.FAILED, error=error, finished_at=timezone.now())


class _ProgressReporter:
    """The `progress` callback handed to a handler: writes at most every PROGRESS_INTERVAL,
    and raises JobCancelled once the job is no longer running."""

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
            still_running = Job.objects.filter(id=self.job.id, attempt=self.job.attempt, status=JobStatus.RUNNING)
            if not still_running.exists():
                raise JobCancelled
            return
        if not _transition(self.job, allowed=(JobStatus.RUNNING,), progress=percent):
            raise JobCancelled


def run_job(*, job_id, worker_name: str = "") -> Job | None:
    """Run one job in this process: start it, call its kind's handler, store the outcome."""
    job = start_job(job_id=job_id, worker_name=worker_name)
    if job is None:
        return None
    job_kind = kinds.get_kind(job.type)
    if job_kind is None:
        fail_job(job=job, error=f"unknown job type {job.type!r}")
        return job
    try:
        result = job_kind.handler(job.params, _ProgressReporter(job))
    except JobCancelled:
        log.info("job_stopped job=%s: no longer running, result dropped", job.id)
        return job
    except Exception as exc:
        fail_job(job=job, error=_describe(exc))
        return job
    try:
        complete_job(job=job, result=result)
    except (TypeError, ValueError) as exc:
        fail_job(job=job, error=f"result could not be stored: {exc}")
    return job


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
