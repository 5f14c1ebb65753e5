"""Every change of a job's state, one function each: start, report progress, complete, fail,
cancel, retry (by a user), requeue (by the runner or the recovery sweep) and promote (a
scheduled job whose time has come, by the workers' clock). Creating is jobs.services.creation's, and
changing many jobs at once jobs.services.bulk's.

The API, the dashboard, the worker, the webhooks and the management commands all call these.
Each status change is a conditional UPDATE (`WHERE status IN … AND attempt = …`), so two
workers never both run one job and a late write from a cancelled or lost run never
overwrites a newer state; each is logged as one line and published to the job's watchers
once it is committed.
"""

import logging
from datetime import timedelta
from functools import lru_cache, partial

from django.db import connection, transaction
from django.utils import timezone

from jobs import events, rows
from jobs.callers import Caller
from jobs.execution import queue
from jobs.models import FINAL_STATUSES, RETRYABLE_STATUSES, Job, JobStatus
from jobs.services import caps

log = logging.getLogger("bespin.jobs")


class JobStateConflict(Exception):
    """The job's status does not allow the requested change (the API answers 409)."""


def log_change(job: Job, **extra) -> None:
    fields = {
        "job": job.id,
        "kind": job.type,
        "status": job.status,
        "attempt": job.attempt,
        "duration": f"{job.duration:.3f}" if job.duration is not None else None,
        "worker": job.worker_name or None,
        "schedule": job.schedule_id,
        **extra,
    }
    log.info("job_change %s", " ".join(f"{k}={v}" for k, v in fields.items() if v is not None))


# Changes of an existing job


def _transition(job: Job, *, allowed, **changes) -> bool:
    """Apply `changes` if the job is still in an allowed status of the same attempt; log and
    publish after commit. False when the row had moved on."""
    fields = [Job._meta.get_field(name) for name in changes]
    values = [field.get_db_prep_save(value, connection) for field, value in zip(fields, changes.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            _update_sql(tuple(field.column for field in fields)), [*values, job.id, job.attempt, list(allowed)]
        )
        if not cursor.rowcount:
            return False
    for name, value in changes.items():
        setattr(job, name, value)
    log_change(job)
    transaction.on_commit(partial(events.publish, job))
    return True


@lru_cache(maxsize=64)
def _update_sql(columns: tuple[str, ...]) -> str:
    # Written once per set of columns: the ORM would build the same statement again on every
    # change, a good share of a worker's time per job.
    assignments = ", ".join(f'"{column}" = %s' for column in columns)
    return f'UPDATE "{Job._meta.db_table}" SET {assignments} WHERE "id" = %s AND "attempt" = %s AND "status" = ANY(%s)'


_START_SQL = (
    f"UPDATE {Job._meta.db_table} SET status = %s, started_at = %s, finished_at = NULL, progress = 0, "
    "worker_name = %s WHERE id = %s AND status = %s{attempt} RETURNING " + rows.RETURNING
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
    started = rows.fetch_jobs(sql, params)
    if not started:
        return None
    job = started[0]
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


def fail_job(*, job: Job, error: str, lost: bool = False, errors: list | None = None) -> bool:
    """A running job failed; `lost` when its worker died under it (counted towards MAX_LOST);
    `errors` the job's record of its attempts' exceptions, this one's added."""
    changes = {"lost_count": job.lost_count + 1} if lost else {}
    if errors is not None:
        changes["errors"] = errors
    return _transition(
        job, allowed=(JobStatus.RUNNING,), status=JobStatus.FAILED, error=error, finished_at=timezone.now(), **changes
    )


def _new_attempt(job: Job, *, allowed, error: str = "", delay: float = 0, **changes) -> bool:
    """Attempt + 1: pending and enqueued after commit, or, `delay` seconds from now, scheduled
    for the workers' clock to enqueue then (as a job asked to run later is)."""
    if delay > 0:
        changes["run_at"] = timezone.now() + timedelta(seconds=delay)
    with transaction.atomic():
        moved = _transition(
            job,
            allowed=allowed,
            status=JobStatus.SCHEDULED if delay > 0 else JobStatus.PENDING,
            attempt=job.attempt + 1,
            progress=0,
            result=None,
            error=error,
            started_at=None,
            finished_at=None,
            worker_name="",
            **changes,
        )
        if moved and delay <= 0:
            transaction.on_commit(partial(queue.enqueue_job, job))
    return moved


def requeue_job(*, job: Job, error: str, delay: float = 0, lost: bool = False, errors: list | None = None) -> bool:
    """Run a running job again as a new attempt: after a failure its kind retries (`delay`
    seconds later, `scheduled` until then, its run_at the retry's time), or once its worker
    was lost (`lost`)."""
    changes = {"lost_count": job.lost_count + 1} if lost else {}
    if errors is not None:
        changes["errors"] = errors
    return _new_attempt(job, allowed=(JobStatus.RUNNING,), error=error, delay=delay, **changes)


def retry_job(*, job: Job, caller: Caller | None = None) -> Job:
    """Run a failed or cancelled job again as a new attempt, now (a job cancelled while
    scheduled too); JobStateConflict otherwise. With a `caller` (a request's), the attempt is
    an unfinished job of theirs: it counts against their cap (TooManyUnfinished past it)."""
    while True:
        if job.status not in RETRYABLE_STATUSES:
            raise JobStateConflict(f"job is {job.status}; only failed or cancelled jobs can be retried")
        with transaction.atomic():
            changes = {}
            if caller is not None:
                caps.hold(caller)
                changes["client"] = caller.client
            if _new_attempt(job, allowed=(job.status,), **changes):
                return job
        job.refresh_from_db()


def cancel_job(*, job: Job) -> Job:
    """Cancel a scheduled, pending or running job. A scheduled job never runs; a pending job
    leaves the queue; a running one stops at its handler's next progress report, on whichever
    machine runs it. Raises JobStateConflict for a finished job."""
    while True:
        if job.status in FINAL_STATUSES:
            raise JobStateConflict(f"job is {job.status}; only scheduled, pending or running jobs can be cancelled")
        # One status at a time, so that only a job cancelled while still pending has its RQ
        # job removed: a worker may have started it since it was read. A scheduled one has
        # nothing in Redis; it is tried first only when it was read scheduled.
        now = timezone.now()
        if job.status == JobStatus.SCHEDULED and _transition(
            job, allowed=(JobStatus.SCHEDULED,), status=JobStatus.CANCELLED, finished_at=now
        ):
            return job
        if _transition(job, allowed=(JobStatus.PENDING,), status=JobStatus.CANCELLED, finished_at=timezone.now()):
            queue.remove_from_queue(job)
            return job
        if _transition(job, allowed=(JobStatus.RUNNING,), status=JobStatus.CANCELLED, finished_at=timezone.now()):
            return job
        job.refresh_from_db()


# Scheduled jobs whose time has come: PostgreSQL's partial index on run_at finds them, and one
# statement moves a batch, oldest first. Rows another transaction holds (a cancel) are left
# for the next round rather than waited for.
_PROMOTE_SQL = (
    f"UPDATE {Job._meta.db_table} SET status = %s WHERE id IN (SELECT id FROM {Job._meta.db_table} "
    "WHERE status = %s AND run_at <= %s ORDER BY run_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING " + rows.RETURNING
)


def promote_due_jobs(*, now=None, limit: int = 1000) -> list[Job]:
    """Move scheduled jobs whose run_at is `now` or past to pending, at most `limit`, oldest
    first; once committed they are logged, enqueued in one pipeline and published (one
    message per group)."""
    params = [JobStatus.PENDING, JobStatus.SCHEDULED, now or timezone.now(), limit]
    with transaction.atomic():
        jobs = rows.fetch_jobs(_PROMOTE_SQL, params)
        if jobs:
            transaction.on_commit(partial(announce_many, jobs, enqueue=jobs))
    return jobs


def announce_many(jobs: list[Job], *, new: bool = False, enqueue=(), dequeue=()) -> None:
    """Log committed changes of many jobs (`new`: just created), take `dequeue` off their
    queues and put `enqueue` on, and publish the changes, one message per group: in the
    enqueue's transaction when there is one, so that no worker announces a job running
    before its change here is announced."""
    for job in jobs:
        log_change(job)
    if dequeue:
        queue.remove_entries(dequeue)
    if not enqueue:
        events.publish_many(jobs, new=new)
        return
    carried = []
    if not queue.enqueue_jobs(enqueue, also=partial(_publish_many, jobs, new, carried)) and any(carried):
        events.publish_many(jobs, new=new)  # the failed enqueue took the publish with it


def _publish_many(jobs: list[Job], new: bool, carried: list, pipeline) -> None:
    carried.append(events.publish_many(jobs, new=new, queue_pipeline=pipeline))
