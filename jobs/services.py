"""Every change to a job happens here: the API, the dashboard, the worker and the management
commands all call these functions, and each change is published to the job's watchers.

Status changes are conditional UPDATEs (`WHERE status = … AND attempt = …`), so two workers
never both run one job, and a late message from a cancelled or lost run never overwrites a
newer state.
"""

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import django_rq
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers
from rq.job import Job as RQJob
from rq.timeouts import JobTimeoutException

from jobs import events, kinds
from jobs.models import FINAL_STATUSES, IdempotencyKey, Job, JobStatus

log = logging.getLogger("bespin.jobs")

QUEUE_NAME = "default"
# A progress report writes a row; more often than this it would cost more than the work.
PROGRESS_INTERVAL = 0.25
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# A worker writes its heartbeat key every HEARTBEAT_INTERVAL; the key lives HEARTBEAT_TTL.
# A running job whose worker's key is gone has lost its worker.
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TTL = 5
# A job lost with its worker this many times is failed even when its kind is safe to re-run:
# it is probably what kills the worker.
MAX_LOST = 3
LOST_ERROR = "worker lost: the process running this job stopped (killed, crashed or its machine lost)"


class JobCancelled(Exception):
    """Raised inside a handler when its job stopped running (cancelled, or taken over)."""


class JobStateConflict(Exception):
    """The job's status does not allow the requested change (the API answers 409)."""


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key came back with different parameters (the API answers 422)."""


# Redis keys of Bespin's own, beside RQ's.
SWEEP_LOCK_KEY = "bespin:recovery:lock"
# Set once when missing: its age tells how long Redis has held Bespin's keys (heartbeats
# included), whether it restarted empty or was flushed.
EPOCH_KEY = "bespin:epoch"
# The heartbeat's value while the worker runs no job.
IDLE = "-"


def worker_heartbeat_key(worker_name: str) -> str:
    """The worker's heartbeat: alive while the key exists; its value is the RQ job it runs."""
    return f"bespin:worker:{worker_name}"


def rq_job_id(job: Job) -> str:
    # One RQ job per attempt, so RQ's bookkeeping of an earlier attempt (its started or failed
    # registry) never touches the next one.
    return f"{job.id}_{job.attempt}"


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


_queues: dict[int, object] = {}


def _queue():
    """This process's RQ queue. `django_rq.get_queue()` builds a new Redis client, pool and
    TCP connection on every call (several ms a job); one per process is kept instead, and a
    forked child makes its own."""
    pid = os.getpid()
    queue = _queues.get(pid)
    if queue is None:
        queue = _queues[pid] = django_rq.get_queue(QUEUE_NAME)
    return queue


def enqueue_job(job: Job, *, delay: float = 0) -> None:
    """Put the job on the RQ queue (after `delay` seconds, through RQ's scheduler). A failure
    leaves the job `pending` in PostgreSQL, where the recovery sweep enqueues it again."""
    job_kind = kinds.get_kind(job.type)
    options = {
        "job_id": rq_job_id(job),
        "job_timeout": job_kind.timeout if job_kind else 600,
        "result_ttl": 0,
        "failure_ttl": 24 * 3600,
    }
    try:
        if delay > 0:
            _queue().enqueue_in(timedelta(seconds=delay), "jobs.tasks.run_job", str(job.id), **options)
        else:
            _queue().enqueue("jobs.tasks.run_job", str(job.id), **options)
    except Exception:
        log.exception("enqueue failed job=%s; the recovery sweep will enqueue it again", job.id)


def _fingerprint(kind: str, params: dict) -> str:
    return hashlib.sha256(json.dumps([kind, params], sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Created:
    job: Job
    replayed: bool = False


def create_job(*, kind: str, params, owner=None, idempotency_key: str = "", client: str = "") -> Job:
    """Create a pending job of `kind` and enqueue it once the row is committed."""
    return create_job_once(kind=kind, params=params, owner=owner, idempotency_key=idempotency_key, client=client).job


def create_job_once(*, kind: str, params, owner=None, idempotency_key: str = "", client: str = "") -> Created:
    """`create_job` that honours an Idempotency-Key: the same key from the same client within
    IDEMPOTENCY_KEY_TTL gives back the first job (`replayed`), also when two requests race."""
    job_kind, clean_params = validate_params(kind=kind, params=params)
    owner = owner if owner is not None and owner.pk else None
    if not idempotency_key:
        # One INSERT needs no transaction of its own: outside one, its on_commit work runs
        # as soon as it is written; inside a caller's, after the caller commits.
        return Created(_insert_job(job_kind, clean_params, owner))
    fingerprint = _fingerprint(job_kind.name, clean_params)
    IdempotencyKey.objects.filter(
        client=client, key=idempotency_key, created_at__lt=timezone.now() - IDEMPOTENCY_KEY_TTL
    ).delete()
    try:
        with transaction.atomic():
            job = _insert_job(job_kind, clean_params, owner)
            # The unique (client, key) index makes a concurrent twin wait here for this
            # transaction, then fail, so exactly one job is created.
            IdempotencyKey.objects.create(client=client, key=idempotency_key, fingerprint=fingerprint, job=job)
            return Created(job)
    except IntegrityError:
        existing = IdempotencyKey.objects.select_related("job").get(client=client, key=idempotency_key)
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with different parameters; use a new key"
            ) from None
        return Created(existing.job, replayed=True)


def _insert_job(job_kind: kinds.JobKind, params: dict, owner) -> Job:
    job = Job.objects.create(type=job_kind.name, params=params, owner=owner)
    # After commit: a job rolled back by an idempotency race was never created.
    transaction.on_commit(partial(_announce_new, job))
    return job


def _announce_new(job: Job) -> None:
    """Log, enqueue and publish a committed new job; the publish travels while it enqueues."""
    published = events.start_publish(job, new=True)
    _log_change(job)
    enqueue_job(job)
    published()


def _transition(job: Job, *, allowed, **changes) -> bool:
    """Apply `changes` if the job is still in an allowed status of the same attempt; publish."""
    updated = Job.objects.filter(id=job.id, attempt=job.attempt, status__in=allowed).update(**changes)
    if not updated:
        return False
    for name, value in changes.items():
        setattr(job, name, value)
    _log_change(job)
    transaction.on_commit(partial(events.publish, job))
    return True


_START_SQL = (
    f"UPDATE {Job._meta.db_table} SET status = %s, started_at = %s, finished_at = NULL, progress = 0, "
    "worker_name = %s WHERE id = %s AND status = %s RETURNING *"
)


def start_job(*, job_id, worker_name: str = "") -> Job | None:
    """Move a pending job to running; None when it is not pending any more.

    One conditional `UPDATE … RETURNING` both claims the job and loads the row it wrote, so
    the worker pays one round trip, and reads exactly the state it set."""
    params = [JobStatus.RUNNING, timezone.now(), worker_name, job_id, JobStatus.PENDING]
    job = next(iter(Job.objects.raw(_START_SQL, params)), None)
    if job is None:
        return None
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


def fail_job(*, job: Job, error: str) -> bool:
    return _transition(
        job, allowed=(JobStatus.RUNNING,), status=JobStatus.FAILED, error=error, finished_at=timezone.now()
    )


def _requeue(job: Job, *, allowed, error: str = "", delay: float = 0, **changes) -> bool:
    """A new attempt of the same job: back to pending with attempt + 1, enqueued after commit."""
    with transaction.atomic():
        moved = _transition(
            job,
            allowed=allowed,
            status=JobStatus.PENDING,
            attempt=job.attempt + 1,
            progress=0,
            result=None,
            error=error,
            started_at=None,
            finished_at=None,
            worker_name="",
            **changes,
        )
        if moved:
            transaction.on_commit(partial(enqueue_job, job, delay=delay))
    return moved


def cancel_job(*, job: Job) -> Job:
    """Cancel a pending or running job. A pending job leaves the queue; a running one stops at
    its handler's next progress report, on whichever machine runs it. Raises JobStateConflict
    for a finished job."""
    while True:
        if job.status in FINAL_STATUSES:
            raise JobStateConflict(f"job is {job.status}; only pending or running jobs can be cancelled")
        # One status at a time, so that only a job cancelled while still pending has its RQ
        # job removed: a worker may have started it since it was read.
        if _transition(job, allowed=(JobStatus.PENDING,), status=JobStatus.CANCELLED, finished_at=timezone.now()):
            _remove_from_queue(job)
            return job
        if _transition(job, allowed=(JobStatus.RUNNING,), status=JobStatus.CANCELLED, finished_at=timezone.now()):
            return job
        job.refresh_from_db()


def _remove_from_queue(job: Job) -> None:
    try:
        rq_job = RQJob.fetch(rq_job_id(job), connection=_queue().connection)
        rq_job.cancel()
        rq_job.delete()
    except Exception:
        # Gone already, or Redis is away: the worker skips a job that is not pending anyway.
        pass


def retry_job(*, job: Job) -> Job:
    """Run a failed or cancelled job again as a new attempt; JobStateConflict otherwise."""
    while True:
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise JobStateConflict(f"job is {job.status}; only failed or cancelled jobs can be retried")
        if _requeue(job, allowed=(job.status,)):
            return job
        job.refresh_from_db()


class _ProgressReporter:
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
        elif not _transition(self.job, allowed=(JobStatus.RUNNING,), progress=percent):
            raise JobCancelled


def run_job(*, job_id, worker_name: str = "") -> Job | None:
    """Run one job in this process: start it, call its kind's handler, store the outcome;
    a failure of a kind with retries left is scheduled again with exponential backoff."""
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
        log.info("job_stopped job=%s attempt=%s: no longer running, result dropped", job.id, job.attempt)
        return job
    except JobTimeoutException:
        _fail_or_retry(job, job_kind, f"timed out after {job_kind.timeout} s")
        return job
    except Exception as exc:
        _fail_or_retry(job, job_kind, _describe(exc))
        return job
    try:
        complete_job(job=job, result=result)
    except (TypeError, ValueError, DatabaseError) as exc:
        # Not JSON, or refused by PostgreSQL (a NUL character in jsonb). If even this write
        # fails, the job stays running on a live worker that no longer runs it, which the
        # recovery sweep sees in the worker's heartbeat.
        fail_job(job=job, error=f"result could not be stored: {_describe(exc)}")
    return job


def _fail_or_retry(job: Job, job_kind: kinds.JobKind, error: str) -> None:
    if job.attempt <= job_kind.max_retries:
        delay = job_kind.retry_backoff * 2 ** (job.attempt - 1)
        if _requeue(job, allowed=(JobStatus.RUNNING,), error=f"attempt {job.attempt} failed: {error}", delay=delay):
            return
    fail_job(job=job, error=error)


def _describe(exc: BaseException) -> str:
    # PostgreSQL text cannot hold NUL, and an exception message may.
    message = str(exc).replace("\x00", "\\x00")
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclass
class Recovery:
    requeued_lost: list = field(default_factory=list)
    failed_lost: list = field(default_factory=list)
    reenqueued: list = field(default_factory=list)


def recover_jobs() -> Recovery:
    """Find jobs that a dead worker held and jobs that Redis lost, and set them going again.

    Safe to run anywhere and on many machines at once: every change is a conditional UPDATE.
    """
    report = Recovery()
    connection = _queue().connection
    _recover_lost_runs(connection, report)
    _reenqueue_missing(connection, report)
    for name, jobs in (("requeued_lost", report.requeued_lost), ("failed_lost", report.failed_lost),
                       ("reenqueued", report.reenqueued)):  # fmt: skip
        if jobs:
            log.warning("recovery %s=%d jobs=%s", name, len(jobs), ",".join(str(j.id) for j in jobs))
    return report


def _heartbeats_trustworthy(connection) -> bool:
    """False while Redis may have lost the heartbeats of live workers: restarted empty or
    flushed less than two heartbeat lifetimes ago. Live workers write theirs again meanwhile."""
    now = time.time()
    connection.set(EPOCH_KEY, now, nx=True)
    return now - float(connection.get(EPOCH_KEY) or now) >= 2 * HEARTBEAT_TTL


def _recover_lost_runs(connection, report: Recovery) -> None:
    if not _heartbeats_trustworthy(connection):
        return
    running = list(Job.objects.filter(status=JobStatus.RUNNING))
    if not running:
        return
    names = sorted({job.worker_name for job in running if job.worker_name})
    beats = dict(zip(names, connection.mget([worker_heartbeat_key(n) for n in names]), strict=True))
    grace = timezone.now() - timedelta(seconds=HEARTBEAT_TTL)
    for job in running:
        if job.started_at and job.started_at > grace:
            continue
        beat = beats.get(job.worker_name)
        # Lost: its worker is dead, or alive but running something else (the run ended
        # without its final write reaching PostgreSQL).
        if beat is not None and beat.decode() == rq_job_id(job):
            continue
        job_kind = kinds.get_kind(job.type)
        if job_kind and job_kind.rerun_safe and job.lost_count + 1 < MAX_LOST:
            if _requeue(job, allowed=(JobStatus.RUNNING,), error=LOST_ERROR + "; running it again",
                        lost_count=job.lost_count + 1):  # fmt: skip
                report.requeued_lost.append(job)
        elif _transition(job, allowed=(JobStatus.RUNNING,), status=JobStatus.FAILED, error=LOST_ERROR,
                         finished_at=timezone.now(), lost_count=job.lost_count + 1):  # fmt: skip
            report.failed_lost.append(job)


# Pending jobs checked against Redis per sweep, oldest first. A backlog of thousands is
# covered over several sweeps instead of loading and fetching all of it every 2 seconds.
SWEEP_BATCH = 500


def _reenqueue_missing(connection, report: Recovery) -> None:
    # A younger pending job may still be on its way to Redis (enqueue runs after commit).
    grace = timedelta(seconds=settings.ENQUEUE_GRACE_SECONDS)
    pending = list(
        Job.objects.filter(status=JobStatus.PENDING, created_at__lt=timezone.now() - grace)
        .order_by("created_at")
        .only("id", "type", "attempt", "created_at")[:SWEEP_BATCH]
    )
    if not pending:
        return
    queue = _queue()
    pipeline = connection.pipeline(transaction=False)
    for job in pending:
        pipeline.hmget(RQJob.key_for(rq_job_id(job)), ["status", "worker_name"])
        pipeline.lpos(queue.key, rq_job_id(job))
    answers = pipeline.execute()
    for job, (status, worker_name), position in zip(pending, answers[0::2], answers[1::2], strict=True):
        if status == b"queued" and position is not None:
            continue  # waiting its turn
        if status in (b"scheduled", b"deferred"):
            continue  # RQ's scheduler holds it
        if status == b"started" and worker_name and connection.exists(worker_heartbeat_key(worker_name.decode())):
            continue  # a live worker took it and is about to start it
        enqueue_job(job)
        report.reenqueued.append(job)
