"""The recovery sweep: find jobs that a dead worker held and pending jobs that Redis lost,
and set them going again. Workers run it every few seconds (one at a time); it is also
`manage.py recover_jobs`. Safe anywhere and on many machines at once: every change is a
conditional UPDATE through jobs.services.lifecycle."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rq.job import Job as RQJob

from bespin.lib.redis import queue_client
from jobs import registry
from jobs.execution import concurrency, heartbeats, queue
from jobs.models import Job, JobStatus
from jobs.services import lifecycle

log = logging.getLogger("bespin.jobs")

# Set once when missing: its age tells how long Redis has held Bespin's keys (heartbeats
# included), whether it restarted empty or was flushed.
EPOCH_KEY = "bespin:epoch"
SWEEP_LOCK_KEY = "bespin:recovery:lock"
# A job lost with its worker this many times is failed even when its kind is safe to re-run:
# it is probably what kills the worker.
MAX_LOST = 3
LOST_ERROR = "worker lost: the process running this job stopped (killed, crashed or its machine lost)"
# Pending jobs checked against Redis per sweep, oldest first. A backlog of thousands is
# covered over several sweeps instead of loading and fetching all of it every 2 seconds.
SWEEP_BATCH = 500


@dataclass
class Recovery:
    requeued_lost: list = field(default_factory=list)
    failed_lost: list = field(default_factory=list)
    reenqueued: list = field(default_factory=list)


def recover_jobs(*, meanwhile: Callable[[], None] | None = None) -> Recovery:
    """Re-queue or fail running jobs whose worker is gone, and enqueue again pending jobs
    that Redis does not hold. `meanwhile` is the tests' seam: it runs between the sweep's read
    of the pending jobs and its look at Redis, where a worker may take one of them."""
    report = Recovery()
    connection = queue_client()
    _recover_lost_runs(connection, report)
    _reenqueue_missing(connection, report, meanwhile)
    heartbeats.prune()
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
    return now - float(connection.get(EPOCH_KEY) or now) >= 2 * heartbeats.TTL


def _recover_lost_runs(connection, report: Recovery) -> None:
    if not _heartbeats_trustworthy(connection):
        return
    running = list(Job.objects.filter(status=JobStatus.RUNNING))
    if not running:
        return
    beats = heartbeats.running(sorted({job.worker_name for job in running if job.worker_name}))
    grace = timezone.now() - timedelta(seconds=heartbeats.TTL)
    for job in running:
        if job.started_at and job.started_at > grace:
            continue
        # Lost: its worker is dead, or alive but running something else (the run ended
        # without its final write reaching PostgreSQL).
        if beats.get(job.worker_name) == queue.rq_job_id(job):
            continue
        lost_entry = RQJob.key_for(queue.rq_job_id(job))
        job_kind = registry.get_kind(job.type)
        if job_kind and job_kind.rerun_safe and job.lost_count + 1 < MAX_LOST:
            moved = lifecycle.requeue_job(job=job, error=LOST_ERROR + "; running it again", lost=True)
            if moved:
                report.requeued_lost.append(job)
        else:
            moved = lifecycle.fail_job(job=job, error=LOST_ERROR, lost=True)
            if moved:
                report.failed_lost.append(job)
        if moved:
            # The lost run's queue entry, which its worker would have deleted (jobs.execution.entries).
            connection.delete(lost_entry)


def _reenqueue_missing(connection, report: Recovery, meanwhile: Callable[[], None] | None) -> None:
    # A younger pending job may still be on its way to Redis (enqueue runs after commit), and
    # so may one the clock has just promoted from scheduled (its run_at is as recent).
    cutoff = timezone.now() - timedelta(seconds=settings.ENQUEUE_GRACE_SECONDS)
    pending = list(
        Job.objects.filter(status=JobStatus.PENDING, created_at__lt=cutoff)
        .filter(Q(run_at__isnull=True) | Q(run_at__lt=cutoff))
        .order_by("created_at")
        .only("id", "type", "attempt", "priority", "created_at", "run_at")[:SWEEP_BATCH]
    )
    if not pending:
        return
    if meanwhile is not None:
        meanwhile()
    limited = concurrency.limited_kinds()
    pipeline = connection.pipeline(transaction=False)
    for job in pending:
        rq_job_id, queue_key = queue.rq_job_id(job), queue.queue_of(job).key
        pipeline.hmget(RQJob.key_for(rq_job_id), ["status", "worker_name"])
        pipeline.lpos(queue_key, rq_job_id)
        # Parked for a concurrency slot: out of the queue, but held (jobs.execution.concurrency).
        if job.type in limited:
            pipeline.lpos(concurrency.parked_key(job.type), concurrency.parked_entry(queue_key, rq_job_id))
        else:
            pipeline.echo("")
    answers = pipeline.execute()
    answered = list(zip(answers[0::3], answers[1::3], answers[2::3], strict=True))
    taken = sorted({worker.decode() for (status, worker), _, _ in answered if status == b"started" and worker})
    alive = heartbeats.running(taken)
    missing = []
    for job, ((status, worker_name), position, parked_at) in zip(pending, answered, strict=True):
        if status == b"queued" and (position is not None or parked_at not in (None, b"")):
            continue  # waiting its turn, or a slot
        if status == b"started" and worker_name and alive.get(worker_name.decode()) is not None:
            continue  # a live worker took it and is about to start it
        missing.append(job)
    if not missing:
        return
    # A worker may have taken and started one since it was read (a worker's entries never
    # show RQ's "started": jobs.execution.entries): only those still pending in PostgreSQL are enqueued.
    still = set(
        Job.objects.filter(id__in=[job.id for job in missing], status=JobStatus.PENDING).values_list("id", "attempt")
    )
    for job in missing:
        if (job.id, job.attempt) in still:
            queue.enqueue_job(job)
            report.reenqueued.append(job)
