"""Folding the count deltas that PostgreSQL's triggers append (migration 0004) into their
totals. The workers' periodic maintenance does it every few seconds, so that a reader only
adds up a small table and the few deltas since (jobs.selectors)."""

from django.db import connection

from jobs.models import (
    EVERYONE,
    JobCount,
    JobCountDelta,
    JobMinute,
    JobMinuteDelta,
    JobTally,
    JobTallyDelta,
    TaskMinute,
    TaskMinuteDelta,
)

# The overview charts the last hour; a little more is kept for minutes folded in late.
MINUTES_KEPT = 120


def _fold_with_everyone(delta, total, keys: str) -> str:
    """Move the deltas of `delta` into `total`, per owner and in all (EVERYONE), by `keys`."""
    return f"""
WITH moved AS (DELETE FROM {delta._meta.db_table} RETURNING owner_id, {keys}, n),
summed AS (
    SELECT owner_id, {keys}, sum(n) AS n FROM moved GROUP BY owner_id, {keys}
    UNION ALL SELECT {EVERYONE}, {keys}, sum(n) FROM moved GROUP BY {keys}
)
INSERT INTO {total._meta.db_table} AS total (owner_id, {keys}, n)
SELECT owner_id, {keys}, n FROM summed ORDER BY owner_id, {keys}
ON CONFLICT (owner_id, {keys}) DO UPDATE SET n = total.n + EXCLUDED.n
"""


_COUNTS = _fold_with_everyone(JobCountDelta, JobCount, "kind, status")

_TALLIES = f"""
WITH moved AS (DELETE FROM {JobTallyDelta._meta.db_table} RETURNING kind, event, bucket, count, seconds)
INSERT INTO {JobTally._meta.db_table} AS total (kind, event, bucket, count, seconds)
SELECT kind, event, bucket, sum(count), sum(seconds) FROM moved GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (kind, event, bucket) DO UPDATE SET count = total.count + EXCLUDED.count,
                                                seconds = total.seconds + EXCLUDED.seconds
"""


_MINUTES = _fold_with_everyone(JobMinuteDelta, JobMinute, "minute, status")

_TASK_MINUTES = f"""
WITH moved AS (DELETE FROM {TaskMinuteDelta._meta.db_table} RETURNING kind, minute, status, bucket, n)
INSERT INTO {TaskMinute._meta.db_table} AS total (kind, minute, status, bucket, n)
SELECT kind, minute, status, bucket, sum(n) FROM moved GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (kind, minute, status, bucket) DO UPDATE SET n = total.n + EXCLUDED.n
"""

_OLD_MINUTES = [
    f"DELETE FROM {model._meta.db_table} WHERE minute < now() - interval '{MINUTES_KEPT} minutes'"
    for model in (JobMinute, TaskMinute)
]


def roll_up() -> None:
    """Fold every delta into its total. Safe to run anywhere at once: each statement deletes
    the deltas it adds, and a delta deleted by a concurrent run is not seen twice. The rows
    are taken in key order, so two runs never deadlock on them."""
    with connection.cursor() as cursor:
        cursor.execute(_COUNTS)
        cursor.execute(_TALLIES)
        cursor.execute(_MINUTES)
        cursor.execute(_TASK_MINUTES)
        for statement in _OLD_MINUTES:
            cursor.execute(statement)
