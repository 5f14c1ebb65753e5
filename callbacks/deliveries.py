"""The senders' writes: claim the callbacks that are due, and record what each attempt got.

Both are one statement each, for a whole batch, in a transaction of its own: rows are taken
with `FOR UPDATE SKIP LOCKED`, so any number of workers share the work without waiting on
each other, and a claim is a lease (next_attempt_at moves to its end) rather than a lock held
while the receiver answers. A worker killed mid-send leaves the row pending; it is due again
once the lease runs out, and another worker sends it (at least once: receivers deduplicate
by webhook-id). A worker renews the leases of what it is still sending (renew_claims), so a
lease runs out only when its worker is gone.

One owner's callbacks in flight, across every worker, are at most
BESPIN_CALLBACK_OWNER_IN_FLIGHT: slow receivers of one owner hold that many senders at most,
never every one. A claim passes over an owner at the cap and puts their due callbacks back
by DEFER_SECONDS, behind whatever else is due.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from callbacks.models import CallbackAttempt, CallbackDelivery, DeliveryState
from callbacks.transport import Answer
from jobs.models import Job

# Each wait of the backoff schedule is stretched or shrunk by up to this fraction, so that
# the callbacks of many jobs that failed together do not all come back at the same moment.
JITTER = 0.2
# A claim outlasts the send (the timeout) by this much: recording it, and renewing it.
LEASE_MARGIN = 5.0
# How far a claim puts back the due callbacks of an owner at their cap of callbacks in flight.
DEFER_SECONDS = 1.0
# A claim looks at this many due callbacks for each one it may take: those of owners at their
# cap are passed over.
SCAN_FACTOR = 4

_DELIVERY = CallbackDelivery._meta.db_table
_ATTEMPT = CallbackAttempt._meta.db_table
_JOB = Job._meta.db_table

# statement_timestamp(), not now(): the time of this statement even inside a longer transaction.
# `sending`: each owner's callbacks claimed and not yet recorded, on the partial index of
# claimed rows (a few, however many deliveries are kept). Each due callback gets its place
# among its owner's; past the cap it is put back, within it the oldest `limit` are claimed.
_CLAIM = f"""
WITH due AS (
    SELECT d.id, d.next_attempt_at, j.owner_id
    FROM {_DELIVERY} AS d JOIN {_JOB} AS j ON j.id = d.job_id
    WHERE d.state = '{DeliveryState.PENDING}' AND d.next_attempt_at <= statement_timestamp()
    ORDER BY d.next_attempt_at LIMIT %(scan)s
    FOR UPDATE OF d SKIP LOCKED
),
sending AS (
    SELECT j.owner_id, count(*) AS n
    FROM {_DELIVERY} AS d JOIN {_JOB} AS j ON j.id = d.job_id
    WHERE d.claim IS NOT NULL AND d.state = '{DeliveryState.PENDING}' AND d.next_attempt_at > statement_timestamp()
    GROUP BY j.owner_id
),
placed AS (
    SELECT due.id, due.next_attempt_at,
        row_number() OVER (PARTITION BY due.owner_id ORDER BY due.next_attempt_at) + coalesce(sending.n, 0) AS place
    FROM due LEFT JOIN sending ON sending.owner_id IS NOT DISTINCT FROM due.owner_id
),
picked AS (
    (SELECT id, true AS claimed FROM placed WHERE %(cap)s = 0 OR place <= %(cap)s ORDER BY next_attempt_at
     LIMIT %(limit)s)
    UNION ALL
    SELECT id, false FROM placed WHERE %(cap)s > 0 AND place > %(cap)s
)
UPDATE {_DELIVERY} AS d SET
    claim = CASE WHEN picked.claimed THEN %(claim)s::uuid END,
    next_attempt_at = statement_timestamp()
        + make_interval(secs => CASE WHEN picked.claimed THEN %(lease)s ELSE %(defer)s END)
FROM picked WHERE d.id = picked.id
RETURNING picked.claimed, d.id, d.job_id, d.webhook_id, d.url, d.attempts, d.schedule_start, d.body
"""

_RENEW = f"""
UPDATE {_DELIVERY} SET next_attempt_at = statement_timestamp() + make_interval(secs => %s)
WHERE claim = ANY(%s) AND state = '{DeliveryState.PENDING}'
"""

# The attempt is logged even when the claim was lost meanwhile (it did happen); the delivery
# moves on only under the claim it was sent with.
_RECORD = f"""
WITH sent (id, claim, at, status_code, duration_ms, response, error, state, next_at, body) AS (VALUES {{rows}}),
logged AS (
    INSERT INTO {_ATTEMPT} (delivery_id, at, status_code, duration_ms, response, error)
    SELECT sent.id, sent.at, sent.status_code, sent.duration_ms, sent.response, sent.error
    FROM sent JOIN {_DELIVERY} AS kept ON kept.id = sent.id
)
UPDATE {_DELIVERY} AS d SET
    attempts = d.attempts + 1, state = sent.state, claim = NULL,
    next_attempt_at = coalesce(sent.next_at, d.next_attempt_at),
    finished_at = CASE WHEN sent.state = '{DeliveryState.PENDING}' THEN NULL ELSE sent.at END,
    body = CASE WHEN d.body = '' THEN sent.body ELSE d.body END
FROM sent WHERE d.id = sent.id AND d.claim = sent.claim
"""
_ROW = "(%s::uuid, %s::uuid, %s::timestamptz, %s::int, %s::int, %s, %s, %s, %s::timestamptz, %s)"


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    job_id: uuid.UUID
    webhook_id: str
    url: str
    attempts: int
    schedule_start: int
    body: str  # "" until the first attempt has been recorded
    claim: uuid.UUID


@dataclass(frozen=True)
class Sent:
    """One attempt made (or one that could not be made: no secret), to record."""

    claimed: Claimed
    at: datetime
    answer: Answer
    body: str


def lease_seconds() -> float:
    return settings.CALLBACK_TIMEOUT + LEASE_MARGIN


def claim_due(*, limit: int) -> list[Claimed]:
    """Take up to `limit` callbacks that are due, oldest first, for lease_seconds(), passing
    over (and putting back) those of owners at their cap of callbacks in flight."""
    if limit <= 0:
        return []
    claim = uuid.uuid4()
    cap = settings.CALLBACK_OWNER_IN_FLIGHT
    params = {"scan": limit * SCAN_FACTOR if cap else limit, "cap": cap, "limit": limit, "claim": claim,
              "lease": lease_seconds(), "defer": DEFER_SECONDS}  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, params)
        rows = cursor.fetchall()
    return [Claimed(*row, claim=claim) for claimed, *row in rows if claimed]


def renew_claims(claims) -> None:
    """Extend the leases of the callbacks still being sent under `claims` by lease_seconds()
    from now."""
    if claims:
        with connection.cursor() as cursor:
            cursor.execute(_RENEW, [lease_seconds(), list(claims)])


def next_state(sent: Sent, *, backoff=None) -> tuple[str, datetime | None]:
    """Where a delivery goes after this attempt: delivered (2xx), gone (410), pending again
    after the next wait of the backoff schedule, or failed once the schedule is used up."""
    status = sent.answer.status_code
    if status is not None and 200 <= status < 300:
        return DeliveryState.DELIVERED, None
    if status == 410:
        return DeliveryState.GONE, None
    backoff = settings.CALLBACK_BACKOFF if backoff is None else backoff
    made = sent.claimed.attempts + 1 - sent.claimed.schedule_start
    if made > len(backoff):
        return DeliveryState.FAILED, None
    wait = backoff[made - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    return DeliveryState.PENDING, sent.at + timedelta(seconds=wait)


def record_attempts(*, sent: list[Sent]) -> None:
    """Log each attempt and move its delivery on, all in one statement."""
    if not sent:
        return
    params = []
    for item in sent:
        state, next_at = next_state(item)
        answer = item.answer
        params += [
            item.claimed.id, item.claimed.claim, item.at, answer.status_code, answer.duration_ms,
            answer.response, answer.error, state, next_at, item.body,
        ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_RECORD.format(rows=", ".join([_ROW] * len(sent))), params)
