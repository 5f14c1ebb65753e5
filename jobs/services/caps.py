"""How many unfinished jobs a caller may have: each way that makes a job unfinished (creating
one, a batch, retrying, a schedule's tick) holds the caller's cap first, inside its writing
transaction."""

from django.db import connection

from jobs.callers import Caller
from jobs.models import UNFINISHED_STATUSES, Job

# Namespaces the advisory lock taken per caller while its cap is checked.
_CAP_LOCK = "bespin.jobs.cap:"


class TooManyUnfinished(Exception):
    """The caller already has as many unfinished jobs as it may (the API answers 429)."""


def hold(caller: Caller, *, adding: int = 1) -> None:
    """Inside the writing transaction: wait for the caller's other such changes to commit (a
    lock per caller), then count its unfinished jobs; TooManyUnfinished when `adding` more
    would pass its cap. Counting without the lock would let concurrent requests all see room
    for one more. A caller without a cap (max_unfinished 0) passes."""
    if not caller.max_unfinished:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [_CAP_LOCK + caller.client])
    unfinished = Job.objects.filter(client=caller.client, status__in=UNFINISHED_STATUSES)[: caller.max_unfinished]
    if adding > caller.max_unfinished or unfinished.count() + adding > caller.max_unfinished:
        who = "this address" if caller.anonymous else "you"
        hint = "; sign in for more" if caller.anonymous else ""
        has = "has" if caller.anonymous else "have"
        raise TooManyUnfinished(
            f"{who} already {has} {caller.max_unfinished} jobs pending or running (or scheduled): "
            f"wait for some to finish{hint}"
        )
