"""Every change of a job's state, one function each: create, start, report progress,
complete, fail, cancel, retry (by a user) and requeue (by the runner or the recovery sweep).

The API, the dashboard, the worker, the webhooks and the management commands all call these.
Each status change is a conditional UPDATE (`WHERE status IN … AND attempt = …`), so two
workers never both run one job and a late write from a cancelled or lost run never
overwrites a newer state; each is logged as one line and published to the job's watchers
once it is committed.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from callbacks.validation import validate_callback_url
from jobs import events, kinds, queue
from jobs.callers import Caller
from jobs.models import FINAL_STATUSES, UNFINISHED_STATUSES, IdempotencyKey, Job, JobStatus

log = logging.getLogger("bespin.jobs")

IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# Namespaces the advisory lock taken per caller while its cap is checked.
_CAP_LOCK = "bespin.jobs.cap:"


class JobStateConflict(Exception):
    """The job's status does not allow the requested change (the API answers 409)."""


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key came back with different parameters (the API answers 422)."""


class TooManyUnfinished(Exception):
    """The caller already has as many unfinished jobs as it may (the API answers 429)."""


def log_change(job: Job, **extra) -> None:
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


# Creation


@dataclass
class Created:
    job: Job
    replayed: bool = False


def create_job(*, kind: str, params, owner=None, caller: Caller | None = None, callback_url: str = "") -> Job:
    """Create a pending job of `kind` and enqueue it once the row is committed; raises
    serializers.ValidationError for an unknown kind, bad parameters or a callback_url that
    cannot be used. A `caller` (a request's) brings its limits; without one (webhook
    triggers) `owner` owns the job. When it ends, the workers POST it to `callback_url`."""
    return create_job_once(kind=kind, params=params, owner=owner, caller=caller, callback_url=callback_url).job


def create_job_once(
    *, kind: str, params, owner=None, caller: Caller | None = None, idempotency_key: str = "", callback_url: str = ""
) -> Created:
    """`create_job` that honours an Idempotency-Key: the same key from the same caller within
    IDEMPOTENCY_KEY_TTL gives back the first job (`replayed`), also when two requests race.
    Raises TooManyUnfinished when the caller has reached its cap."""
    anonymous = caller is not None and caller.anonymous
    job_kind, clean_params = kinds.validate_params(kind=kind, params=params, anonymous=anonymous)
    if caller is not None:
        owner = caller.owner
    owner = owner if owner is not None and owner.pk else None
    callback_url = validate_callback_url(url=callback_url, owner=owner, anonymous=anonymous)
    client = caller.client if caller is not None else ""
    if idempotency_key:
        return _create_once(job_kind, clean_params, owner, caller, idempotency_key, callback_url)
    if caller is None or not caller.max_unfinished:
        # One INSERT needs no transaction of its own: outside one, its on_commit work runs
        # as soon as it is written; inside a caller's, after the caller commits.
        return Created(_insert_job(job_kind, clean_params, owner, client, callback_url))
    with transaction.atomic():
        _hold_cap(caller)
        return Created(_insert_job(job_kind, clean_params, owner, client, callback_url))


def _create_once(job_kind, params: dict, owner, caller: Caller | None, key: str, callback_url: str = "") -> Created:
    client = caller.client if caller is not None else ""
    fingerprint = _fingerprint(job_kind.name, params, callback_url)
    IdempotencyKey.objects.filter(client=client, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_KEY_TTL).delete()
    try:
        with transaction.atomic():
            if caller is not None and caller.max_unfinished:
                _hold_cap(caller)
            job = _insert_job(job_kind, params, owner, client, callback_url)
            # The unique (client, key) index makes a concurrent twin wait here for this
            # transaction, then fail, so exactly one job is created.
            IdempotencyKey.objects.create(client=client, key=key, fingerprint=fingerprint, job=job)
            return Created(job)
    except (IntegrityError, TooManyUnfinished) as error:
        # A replay of a key already used is answered even when the caller is at its cap.
        existing = IdempotencyKey.objects.select_related("job").filter(client=client, key=key).first()
        if existing is None:
            raise error from None
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with different parameters; use a new key"
            ) from None
        return Created(existing.job, replayed=True)


def _hold_cap(caller: Caller) -> None:
    """Inside the creating transaction: wait for the caller's other creations to commit (a
    lock per caller), then count its unfinished jobs. Counting without the lock would let
    concurrent requests all see room for one more."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [_CAP_LOCK + caller.client])
    unfinished = Job.objects.filter(client=caller.client, status__in=UNFINISHED_STATUSES)[: caller.max_unfinished]
    if unfinished.count() >= caller.max_unfinished:
        who = "this address" if caller.anonymous else "you"
        hint = "; sign in for more" if caller.anonymous else ""
        raise TooManyUnfinished(
            f"{who} already {'has' if caller.anonymous else 'have'} {caller.max_unfinished} jobs pending or running: "
            f"wait for some to finish{hint}"
        )


def _fingerprint(kind: str, params: dict, callback_url: str = "") -> str:
    # Without a callback the fingerprint is what it always was: keys stored before stay valid.
    request = [kind, params, callback_url] if callback_url else [kind, params]
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _insert_job(job_kind: kinds.JobKind, params: dict, owner, client: str = "", callback_url: str = "") -> Job:
    job = Job.objects.create(type=job_kind.name, params=params, owner=owner, client=client, callback_url=callback_url)
    # After commit: a job rolled back by an idempotency race was never created.
    transaction.on_commit(partial(_announce_new, job))
    return job


def _announce_new(job: Job) -> None:
    """Log, enqueue and publish a committed new job; the publish travels while it enqueues."""
    published = events.start_publish(job, new=True)
    log_change(job)
    queue.enqueue_job(job)
    published()


# Changes of an existing job


def _transition(job: Job, *, allowed, **changes) -> bool:
    """Apply `changes` if the job is still in an allowed status of the same attempt; log and
    publish after commit. False when the row had moved on."""
    updated = Job.objects.filter(id=job.id, attempt=job.attempt, status__in=allowed).update(**changes)
    if not updated:
        return False
    for name, value in changes.items():
        setattr(job, name, value)
    log_change(job)
    transaction.on_commit(partial(events.publish, job))
    return True


_START_SQL = (
    f"UPDATE {Job._meta.db_table} SET status = %s, started_at = %s, finished_at = NULL, progress = 0, "
    "worker_name = %s WHERE id = %s AND status = %s{attempt} RETURNING *"
)


def start_job(*, job_id, attempt: int | None = None, worker_name: str = "") -> Job | None:
    """Move a pending job to running; None when it is not pending any more, or is pending in
    another attempt than the one the queue entry was made for.

    One conditional `UPDATE … RETURNING` both claims the job and loads the row it wrote, so
    the worker pays one round trip, and reads exactly the state it set."""
    params = [JobStatus.RUNNING, timezone.now(), worker_name, job_id, JobStatus.PENDING]
    sql = _START_SQL.format(attempt="" if attempt is None else " AND attempt = %s")
    if attempt is not None:
        params.append(attempt)
    job = next(iter(Job.objects.raw(sql, params)), None)
    if job is None:
        return None
    log_change(job)
    events.publish(job)
    return job


def set_progress(*, job: Job, percent: int) -> bool:
    """Record a running job's progress; False once it is no longer running (cancelled, taken over)."""
    return _transition(job, allowed=(JobStatus.RUNNING,), progress=percent)


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


def fail_job(*, job: Job, error: str, lost: bool = False) -> bool:
    """A running job failed; `lost` when its worker died under it (counted towards MAX_LOST)."""
    changes = {"lost_count": job.lost_count + 1} if lost else {}
    return _transition(
        job, allowed=(JobStatus.RUNNING,), status=JobStatus.FAILED, error=error, finished_at=timezone.now(), **changes
    )


def _new_attempt(job: Job, *, allowed, error: str = "", delay: float = 0, **changes) -> bool:
    """Back to pending as attempt + 1, enqueued after commit."""
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
            transaction.on_commit(partial(queue.enqueue_job, job, delay=delay))
    return moved


def requeue_job(*, job: Job, error: str, delay: float = 0, lost: bool = False) -> bool:
    """Run a running job again as a new attempt: after a failure its kind retries (`delay`
    seconds later), or once its worker was lost (`lost`)."""
    changes = {"lost_count": job.lost_count + 1} if lost else {}
    return _new_attempt(job, allowed=(JobStatus.RUNNING,), error=error, delay=delay, **changes)


def retry_job(*, job: Job) -> Job:
    """Run a failed or cancelled job again as a new attempt; JobStateConflict otherwise."""
    while True:
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise JobStateConflict(f"job is {job.status}; only failed or cancelled jobs can be retried")
        if _new_attempt(job, allowed=(job.status,)):
            return job
        job.refresh_from_db()


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
            queue.remove_from_queue(job)
            return job
        if _transition(job, allowed=(JobStatus.RUNNING,), status=JobStatus.CANCELLED, finished_at=timezone.now()):
            return job
        job.refresh_from_db()
