"""The workers' clock: a few times a second, one worker at a time (a Redis lock) moves
scheduled jobs whose time has come to pending and enqueues them, starts the jobs of due
schedule ticks, and wakes jobs parked for a concurrency slot that a lease freed by running
out. PostgreSQL holds everything it acts on (but parked entries, which the recovery sweep
stands in for), so a Redis flush or restart delays nothing by more than a round.

Each round costs one Redis SET and one query on two partial indexes when nothing is due,
however many jobs are scheduled; and one Redis call per kind with a concurrency limit.
"""

import logging
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from jobs import concurrency, lifecycle, schedules
from jobs.models import Job, JobStatus, Schedule

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


# Whether anything is due, both partial indexes probed in one round trip: a round with
# nothing to do costs this one statement.
_DUE_SQL = (
    f"SELECT EXISTS (SELECT 1 FROM {Job._meta.db_table} WHERE status = %s AND run_at <= %s), "
    f"EXISTS (SELECT 1 FROM {Schedule._meta.db_table} WHERE enabled AND next_run_at <= %s)"
)


def run_clock() -> Round:
    """One round: promote every due scheduled job, start the due schedules' jobs, wake
    parked jobs for free slots."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, [JobStatus.SCHEDULED, now, now])
        jobs_due, schedules_due = cursor.fetchone()
    promoted = started = 0
    while jobs_due:
        batch = lifecycle.promote_due_jobs(now=now, limit=PROMOTE_BATCH)
        promoted += len(batch)
        jobs_due = len(batch) == PROMOTE_BATCH
    if schedules_due:
        started = len(schedules.start_due_schedules(now=now))
    woken = concurrency.wake_parked()
    if promoted or started:
        log.info("clock promoted=%d schedule_jobs=%d woken=%d", promoted, started, woken)
    return Round(promoted=promoted, started=started, woken=woken)


def take_turn(connection, worker_name: str) -> bool:
    """Whether this worker runs this round: one worker per INTERVAL across all of them."""
    return bool(connection.set(LOCK_KEY, worker_name, nx=True, px=int(INTERVAL * 900)))
