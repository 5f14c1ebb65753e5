"""The senders' writes: claim the callbacks that are due, and record what each attempt got.

Both are one statement each, for a whole batch, in a transaction of its own: rows are taken
with `FOR UPDATE SKIP LOCKED`, so any number of workers share the work without waiting on
each other, and a claim is a lease (next_attempt_at moves to its end) rather than a lock held
while the receiver answers. A worker killed mid-send leaves the row pending; it is due again
once the lease runs out, and another worker sends it (at least once: receivers deduplicate
by webhook-id).
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from callbacks.models import CallbackAttempt, CallbackDelivery, DeliveryState
from callbacks.transport import Answer

# Each wait of the backoff schedule is stretched or shrunk by up to this fraction, so that
# the callbacks of many jobs that failed together do not all come back at the same moment.
JITTER = 0.2
# A claim outlasts the send (the timeout) by this much: resolving the host, and recording.
LEASE_MARGIN = 5.0

_DELIVERY = CallbackDelivery._meta.db_table
_ATTEMPT = CallbackAttempt._meta.db_table

# statement_timestamp(), not now(): the time of this statement even inside a longer transaction.
_CLAIM = f"""
WITH due AS (
    SELECT id FROM {_DELIVERY} WHERE state = '{DeliveryState.PENDING}' AND next_attempt_at <= statement_timestamp()
    ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED
)
UPDATE {_DELIVERY} AS d SET claim = %s, next_attempt_at = statement_timestamp() + make_interval(secs => %s)
FROM due WHERE d.id = due.id
RETURNING d.id, d.job_id, d.webhook_id, d.url, d.attempts, d.schedule_start, d.body
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
    """Take up to `limit` callbacks that are due, oldest first, for lease_seconds()."""
    if limit <= 0:
        return []
    claim = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, [limit, claim, lease_seconds()])
        rows = cursor.fetchall()
    return [Claimed(*row, claim=claim) for row in rows]


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
