"""What is kept and for how long. Finished jobs are kept until pruned: `manage.py prune_jobs
--older-than 30d`, or BESPIN_JOB_RETENTION applied by the workers' periodic maintenance.
Idempotency keys go once they are older than jobs.services.creation.IDEMPOTENCY_KEY_TTL. Webhook
receipts outlive their jobs (their link is emptied) and have their own pruning
(webhooks.retention).

Deleting a job fires the counting triggers (migration 0004): the counts of current statuses
go down with it, the metrics tallies (jobs created, attempts ended) do not.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bespin.lib.pruning import delete_in_batches
from jobs.models import FINAL_STATUSES, IdempotencyKey, Job
from jobs.services.creation import IDEMPOTENCY_KEY_TTL

log = logging.getLogger("bespin.jobs")

# The maintenance runs every 2 s; retention at most once per interval across every worker.
RETENTION_LOCK_KEY = "bespin:retention:lock"
RETENTION_INTERVAL_SECONDS = 60
# Jobs one maintenance run deletes at most: a backlog (retention just turned on) goes over
# several minutes instead of holding up the recovery sweep of the worker that runs it.
MAINTENANCE_MAX_JOBS = 10_000


@dataclass(frozen=True)
class Pruned:
    jobs: int
    idempotency_keys: int


def prune_jobs(*, older_than: timedelta, batch_size: int = 1000, max_jobs: int | None = None) -> int:
    """Delete jobs that finished (completed, failed or cancelled) more than `older_than` ago,
    `batch_size` per transaction so that none holds long locks; at most `max_jobs` (None:
    all of them). Pending and running jobs are never deleted, however old. Their
    idempotency keys go with them; webhook receipts stay, with no job. Returns how many went."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while max_jobs is None or deleted < max_jobs:
        size = batch_size if max_jobs is None else min(batch_size, max_jobs - deleted)
        with transaction.atomic():
            # Locked as they are chosen, each row checked again if it changed: a job retried
            # meanwhile is pending and not taken, and cannot be retried until it is gone.
            # Rows someone else holds are skipped, for a later batch or run.
            batch = list(
                Job.objects.select_for_update(skip_locked=True)
                .filter(status__in=FINAL_STATUSES, finished_at__lt=cutoff)
                .order_by("finished_at")
                .values_list("id", flat=True)[:size]
            )
            if not batch:
                break
            # Only the ids are loaded to delete: a job's result may be megabytes.
            Job.objects.filter(id__in=batch).only("id").delete()
        deleted += len(batch)
        if len(batch) < size:
            break
    return deleted


def prune_idempotency_keys(*, batch_size: int = 1000) -> int:
    """Delete Idempotency-Keys older than IDEMPOTENCY_KEY_TTL, which no longer replay
    anything; returns how many went."""
    expired = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEY_TTL)
    return delete_in_batches(expired, batch_size=batch_size)


def apply_retention(*, connection: redis.Redis, worker_name: str) -> Pruned | None:
    """The workers' periodic retention: Idempotency-Keys past their TTL and, when
    BESPIN_JOB_RETENTION is set, jobs finished longer ago than it. Runs at most once per
    RETENTION_INTERVAL_SECONDS across every worker sharing `connection`'s Redis; None when
    it was not this worker's turn."""
    if not connection.set(RETENTION_LOCK_KEY, worker_name, nx=True, ex=RETENTION_INTERVAL_SECONDS):
        return None
    jobs = 0
    if settings.JOB_RETENTION:
        jobs = prune_jobs(older_than=settings.JOB_RETENTION, max_jobs=MAINTENANCE_MAX_JOBS)
    pruned = Pruned(jobs=jobs, idempotency_keys=prune_idempotency_keys())
    if pruned.jobs or pruned.idempotency_keys:
        log.info("retention jobs=%d idempotency_keys=%d worker=%s", pruned.jobs, pruned.idempotency_keys, worker_name)
    return pruned
