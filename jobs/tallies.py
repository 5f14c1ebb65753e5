"""Folding the count deltas that PostgreSQL's triggers append (migration 0004) into their
totals. The workers' periodic maintenance does it every few seconds, so that a reader only
adds up a small table and the few deltas since (jobs.selectors)."""

from django.db import connection

from jobs.models import EVERYONE, JobCount, JobCountDelta, JobMinute, JobMinuteDelta, JobTally, JobTallyDelta

# The overview charts the last hour; a little more is kept for minutes folded in late.
MINUTES_KEPT = 120

_COUNTS = f"""
WITH moved AS (DELETE FROM {JobCountDelta._meta.db_table} RETURNING owner_id, kind, status, n),
summed AS (
    SELECT owner_id, kind, status, sum(n) AS n FROM moved GROUP BY 1, 2, 3
    UNION ALL SELECT {EVERYONE}, kind, status, sum(n) FROM moved GROUP BY 2, 3
)
INSERT INTO {JobCount._meta.db_table} AS total (owner_id, kind, status, n)
SELECT owner_id, kind, status, n FROM summed ORDER BY 1, 2, 3
ON CONFLICT (owner_id, kind, status) DO UPDATE SET n = total.n + EXCLUDED.n
"""

_TALLIES = f"""
WITH moved AS (DELETE FROM {JobTallyDelta._meta.db_table} RETURNING kind, event, bucket, count, seconds)
INSERT INTO {JobTally._meta.db_table} AS total (kind, event, bucket, count, seconds)
SELECT kind, event, bucket, sum(count), sum(seconds) FROM moved GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (kind, event, bucket) DO UPDATE SET count = total.count + EXCLUDED.count,
                                                seconds = total.seconds + EXCLUDED.seconds
"""


_MINUTES = f"""
WITH moved AS (DELETE FROM {JobMinuteDelta._meta.db_table} RETURNING owner_id, minute, status, n),
summed AS (
    SELECT owner_id, minute, status, sum(n) AS n FROM moved GROUP BY 1, 2, 3
    UNION ALL SELECT {EVERYONE}, minute, status, sum(n) FROM moved GROUP BY 2, 3
)
INSERT INTO {JobMinute._meta.db_table} AS total (owner_id, minute, status, n)
SELECT owner_id, minute, status, n FROM summed ORDER BY 1, 2, 3
ON CONFLICT (owner_id, minute, status) DO UPDATE SET n = total.n + EXCLUDED.n
"""

_OLD_MINUTES = f"DELETE FROM {JobMinute._meta.db_table} WHERE minute < now() - interval '{MINUTES_KEPT} minutes'"


def roll_up() -> None:
    """Fold every delta into its total. Safe to run anywhere at once: each statement deletes
    the deltas it adds, and a delta deleted by a concurrent run is not seen twice. The rows
    are taken in key order, so two runs never deadlock on them."""
    with connection.cursor() as cursor:
        cursor.execute(_COUNTS)
        cursor.execute(_TALLIES)
        cursor.execute(_MINUTES)
        cursor.execute(_OLD_MINUTES)
