"""Cancelling or retrying many jobs at once: named by their ids (at most MAX_IDS), or by a
filter on status and kind (at most MAX_JOBS a call, oldest first: call again for more).

Each is one transaction: the chosen rows are locked, then one conditional UPDATE … RETURNING
changes those whose status allows it, as jobs.services.lifecycle does for one job. Once committed,
every change is logged and published (one message per group), retried jobs are enqueued in
one pipeline, and cancelled pending jobs leave their queues in one pipeline.
"""

from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from jobs.callers import Caller
from jobs.models import CANCELLABLE_STATUSES, RETRYABLE_STATUSES, Job, JobStatus
from jobs.rows import RETURNING, fetch_jobs
from jobs.services import caps
from jobs.services.lifecycle import announce_many

MAX_IDS = 1000
MAX_JOBS = 10_000

_TABLE = Job._meta.db_table
_CANCEL_SQL = (
    f"UPDATE {_TABLE} SET status = %s, finished_at = %s WHERE id = ANY(%s) AND status = ANY(%s) RETURNING " + RETURNING
)
_RETRY_SQL = (
    f"UPDATE {_TABLE} SET status = %s, attempt = attempt + 1, progress = 0, result = NULL, error = '', "
    "started_at = NULL, finished_at = NULL, worker_name = '', client = COALESCE(%s, client) "
    "WHERE id = ANY(%s) AND status = ANY(%s) RETURNING " + RETURNING
)


@dataclass(frozen=True)
class BulkResult:
    changed: int
    # Named or matched but left as they were: unknown ids, other people's jobs, or a status
    # the change does not apply to.
    skipped: int


def cancel_jobs(*, jobs, ids: list | None = None) -> BulkResult:
    """Cancel the scheduled, pending and running jobs among `jobs` (a queryset: the caller's
    jobs, filtered), or among those of them whose id is in `ids`. Running ones stop at their
    handler's next progress report."""
    now = timezone.now()
    with transaction.atomic():
        chosen, before = _lock(jobs, ids, CANCELLABLE_STATUSES)
        changed = fetch_jobs(_CANCEL_SQL, [JobStatus.CANCELLED, now, chosen, list(CANCELLABLE_STATUSES)])
        was_pending = [job for job in changed if before[job.id] == JobStatus.PENDING]
        if changed:
            transaction.on_commit(partial(announce_many, changed, dequeue=was_pending))
    return _result(ids, chosen, changed)


def retry_jobs(*, jobs, ids: list | None = None, caller: Caller | None = None) -> BulkResult:
    """Run the failed and cancelled jobs among `jobs` (or those of them in `ids`) again, as
    new attempts, now. With a `caller` (a request's), they are unfinished jobs of theirs: all
    of them count against their cap, and none is retried past it (TooManyUnfinished)."""
    with transaction.atomic():
        chosen, before = _lock(jobs, ids, RETRYABLE_STATUSES)
        if caller is not None:
            caps.hold(caller, adding=sum(before[job_id] in RETRYABLE_STATUSES for job_id in chosen))
        client = caller.client if caller is not None else None
        changed = fetch_jobs(_RETRY_SQL, [JobStatus.PENDING, client, chosen, list(RETRYABLE_STATUSES)])
        if changed:
            transaction.on_commit(partial(announce_many, changed, enqueue=changed))
    return _result(ids, chosen, changed)


def _lock(jobs, ids: list | None, allowed) -> tuple[list, dict]:
    """Lock the rows to change, oldest first: by id (any status, to count what is skipped)
    or, for a filter, those in an allowed status. Their ids, and each one's status."""
    if ids is not None:
        if len(ids) > MAX_IDS:
            raise serializers.ValidationError({"ids": [f"at most {MAX_IDS} ids at once; use a filter for more"]})
        jobs = jobs.filter(id__in=ids)
    else:
        jobs = jobs.filter(status__in=allowed)
    rows = list(jobs.select_for_update().order_by("created_at").values_list("id", "status")[:MAX_JOBS])
    return [job_id for job_id, _ in rows], dict(rows)


def _result(ids: list | None, chosen: list, changed: list) -> BulkResult:
    named = len(set(ids)) if ids is not None else len(chosen)
    return BulkResult(changed=len(changed), skipped=named - len(changed))
