"""The workers' clock: a few times a second, one worker at a time (a Redis lock) moves
scheduled jobs whose time has come to pending and enqueues them, runs the steps other apps
add (jobs.extensions: the schedules' due ticks), and wakes jobs parked for a concurrency
slot that a lease freed by running out. PostgreSQL holds everything it acts on (but parked
entries, which the recovery sweep stands in for), so a Redis flush or restart delays nothing
by more than a round.

Each round costs one Redis SET and one query on partial indexes when nothing is due,
however many jobs are scheduled; and one Redis call per kind with a concurrency limit.
"""

import logging
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from jobs import extensions
from jobs.execution import concurrency
from jobs.models import Job, JobStatus
from jobs.services import lifecycle

log = logging.getLogger("bespin.jobs")

# A job runs at most about this long after its run_at, plus the enqueue and a free worker.
INTERVAL = 0.2
LOCK_KEY = "bespin:clock:lock"
# Scheduled jobs promoted per statement; a round goes on while batches come back full.
PROMOTE_BATCH = 1000


@dataclass(frozen=True)
class Round:
    promoted: int
    started: int
    woken: int


_JOBS_DUE_SQL = f"SELECT 1 FROM {Job._meta.db_table} WHERE status = %s AND run_at <= %s"


def run_clock() -> Round:
    """One round: promote every due scheduled job, run the steps that have something due,
    wake parked jobs for free slots."""
    now = timezone.now()
    steps = list(extensions.clock_steps)
    # Whether anything is due, every partial index probed in one round trip: a round with
    # nothing to do costs this one statement.
    probes = ", ".join(f"EXISTS ({sql})" for sql in [_JOBS_DUE_SQL, *(step.due_sql for step in steps)])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {probes}", [JobStatus.SCHEDULED, now, *(now for _ in steps)])
        jobs_due, *steps_due = cursor.fetchone()
    promoted = started = 0
    while jobs_due:
        batch = lifecycle.promote_due_jobs(now=now, limit=PROMOTE_BATCH)
        promoted += len(batch)
        jobs_due = len(batch) == PROMOTE_BATCH
    for step, due in zip(steps, steps_due, strict=True):
        if due:
            started += step.run(now)
    woken = concurrency.wake_parked()
    if promoted or started:
        log.info("clock promoted=%d schedule_jobs=%d woken=%d", promoted, started, woken)
    return Round(promoted=promoted, started=started, woken=woken)


def take_turn(connection, worker_name: str) -> bool:
    """Whether this worker runs this round: one worker per INTERVAL across all of them."""
    return bool(connection.set(LOCK_KEY, worker_name, nx=True, px=int(INTERVAL * 900)))
