"""Storing verified deliveries as receipts, once per (source, delivery id), with the job a
source's trigger starts; the admin's replay of a receipt's triggers comes here too."""

import json
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import redis
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import serializers

from bespin.lib import outages
from bespin.lib.errors import first_message
from bespin.lib.redis import counters_client
from jobs.services import creation
from webhooks import config, counters, sources
from webhooks.config import TriggerRule
from webhooks.models import WebhookReceipt
from webhooks.rejections import Rejected
from webhooks.verification import Delivery, internal_error

log = logging.getLogger("bespin.webhooks")


@dataclass(frozen=True)
class Accepted:
    receipt_id: uuid.UUID
    event: str
    job_id: uuid.UUID | None
    created: bool  # False for a redelivery: the receipt is the first delivery's


def record_deliveries(*, deliveries: Sequence[Delivery]) -> list[Accepted | Rejected]:
    """Store verified deliveries once per (source, delivery id), each with the job its trigger
    starts, and answer each: the new receipt, or the first one for a redelivery, or (for a
    delivery the server failed to store) the error that is its alone.

    Deliveries without a trigger go in one INSERT (the ingress hands over all that arrived
    while the previous batch was being stored). A triggered one goes in its own
    transaction with its job. Under a race an insert waits for the other to commit and then
    gets the first row back, so identical deliveries arriving together store one receipt.
    """
    answers: dict[tuple[str, str], Accepted | Rejected] = {}
    plain: dict[tuple[str, str], Delivery] = {}
    for delivery in deliveries:
        if delivery.key in answers or delivery.key in plain:
            continue  # the same delivery twice in one batch: answered as a redelivery below
        if delivery.trigger is None:
            plain[delivery.key] = delivery
        else:
            try:
                answers[delivery.key] = _record_triggered(delivery)
            except Exception as exc:
                answers[delivery.key] = internal_error(exc, source=delivery.source)
    if plain:
        answers.update(_insert_plain(list(plain.values())))
    results, seen = [], set()
    for delivery in deliveries:
        accepted = answers[delivery.key]
        if delivery.key in seen and isinstance(accepted, Accepted) and accepted.created:
            accepted = replace(accepted, created=False)
        seen.add(delivery.key)
        results.append(accepted)
    _count_stored([d.source for d, a in zip(deliveries, results, strict=True) if isinstance(a, Accepted) and a.created])
    return results


def _insert_plain(deliveries: list[Delivery]) -> dict[tuple[str, str], Accepted | Rejected]:
    try:
        return _insert_receipts(deliveries)
    except Exception as exc:
        if len(deliveries) == 1:
            return {deliveries[0].key: internal_error(exc, source=deliveries[0].source)}
        if outages.unavailable_part(exc) is not None:
            raise
    # One row failed the batch's INSERT (autocommit: nothing of it was stored). Each goes
    # again on its own, so that only that one fails.
    answers = {}
    for delivery in deliveries:
        answers.update(_insert_plain([delivery]))
    return answers


def _count_stored(source_names: list[str]) -> None:
    """Add the new receipts to each source's count in Redis (a counter for metrics, which
    pruning receipts never takes back). Without Redis the count misses them; nothing else does."""
    if not source_names:
        return
    try:
        pipe = counters_client().pipeline(transaction=False)
        for source, stored in Counter(source_names).items():
            pipe.hincrby(counters.STORED_KEY, source, stored)
        pipe.execute()
    except redis.RedisError:
        log.warning("webhook_stored_uncounted: Redis unavailable", exc_info=True)


def _rows(deliveries: Sequence[Delivery]) -> tuple[list[uuid.UUID], list]:
    ids, params = [], []
    now = timezone.now()
    for delivery in deliveries:
        ids.append(uuid.uuid4())
        params += [ids[-1], delivery.source, delivery.event, delivery.delivery_id]
        params += [json.dumps(delivery.payload), json.dumps(delivery.headers), now]
    return ids, params


def _insert_receipts(deliveries: list[Delivery]) -> dict[tuple[str, str], Accepted]:
    # Sorted by key, so that two batches that share keys take their locks in one order.
    deliveries.sort(key=lambda delivery: delivery.key)
    new_ids, params = _rows(deliveries)
    with connection.cursor() as cursor:
        cursor.execute(_insert_receipt_sql(len(deliveries)), params)
        returned = {(source, delivery_id): (receipt_id, event, job_id)
                    for receipt_id, source, delivery_id, event, job_id in cursor.fetchall()}  # fmt: skip
    answers = {}
    for delivery, new_id in zip(deliveries, new_ids, strict=True):
        receipt_id, event, job_id = returned[delivery.key]
        answers[delivery.key] = _accepted(delivery, receipt_id, event, job_id, created=receipt_id == new_id)
    return answers


@transaction.atomic
def _record_triggered(delivery: Delivery) -> Accepted:
    [new_id], params = _rows([delivery])
    with connection.cursor() as cursor:
        cursor.execute(_insert_receipt_sql(1), params)
        receipt_id, _source, _delivery_id, event, job_id = cursor.fetchone()
    if receipt_id != new_id:
        return _accepted(delivery, receipt_id, event, job_id, created=False)
    job = _start_job(receipt_id=receipt_id, source=delivery.source, trigger=delivery.trigger)
    return _accepted(delivery, receipt_id, event, job.id if job else None, created=True)


def _accepted(delivery: Delivery, receipt_id, event, job_id, *, created: bool) -> Accepted:
    if created:
        log.info("webhook_received source=%s event=%s receipt=%s job=%s", delivery.source, event, receipt_id, job_id)
    else:
        log.info(
            "webhook_redelivery source=%s delivery=%s receipt=%s", delivery.source, delivery.delivery_id, receipt_id
        )
    return Accepted(receipt_id=receipt_id, event=event, job_id=job_id, created=created)


@lru_cache(maxsize=128)
def _insert_receipt_sql(rows: int) -> str:
    """`INSERT … VALUES (…), (…) ON CONFLICT (source, delivery_id) DO UPDATE … RETURNING`,
    one statement for a whole batch. Written out because the ORM cannot say it in one round
    trip: bulk_create wraps its INSERT in BEGIN/COMMIT, and with ignore_conflicts returns
    nothing. The no-op update (delivery_id set to itself) makes PostgreSQL return the row
    that is already there, which is how a redelivery learns the first receipt's id."""
    meta = WebhookReceipt._meta
    column = {name: meta.get_field(name).column for name in (*_RECEIPT_FIELDS, "verified")}
    columns = ", ".join(column[name] for name in _RECEIPT_FIELDS)
    values = ", ".join(["(%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, true)"] * rows)
    return (
        f"INSERT INTO {meta.db_table} ({columns}, {column['verified']}) VALUES {values} "
        f"ON CONFLICT ({column['source']}, {column['delivery_id']}) "
        f"DO UPDATE SET {column['delivery_id']} = EXCLUDED.{column['delivery_id']} "
        f"RETURNING {column['id']}, {column['source']}, {column['delivery_id']}, {column['event']}, "
        f"{meta.get_field('job').column}"
    )


_RECEIPT_FIELDS = ("id", "source", "event", "delivery_id", "payload", "headers", "received_at")


def _start_job(*, receipt_id: uuid.UUID, source: str, trigger: TriggerRule):
    try:
        job = creation.create_job(kind=trigger.job_kind, params=trigger.params)
    except serializers.ValidationError as error:
        # The trigger was valid when saved; its task is gone or no longer offered, or its
        # parameters no longer fit it. Keep the receipt, and turn the trigger off with the
        # reason, so that the next deliveries do not try again.
        reason = f"turned off: {first_message(error.detail)}"
        sources.disable_trigger(source_name=source, event_pattern=trigger.pattern, reason=reason)
        log.warning("webhook_trigger_disabled source=%s trigger=%r receipt=%s: %s", source, trigger.pattern,
                    receipt_id, reason)  # fmt: skip
        return None
    WebhookReceipt.objects.filter(id=receipt_id).update(job=job)
    return job


@transaction.atomic
def replay_receipt(*, receipt: WebhookReceipt):
    """Run the receipt's source triggers again for its event: the job started, or None when
    no trigger matches now. The receipt then points at the new job."""
    source = config.load_source_config(receipt.source)
    trigger = source.trigger_for(receipt.event) if source else None
    if trigger is None:
        return None
    job = _start_job(receipt_id=receipt.id, source=receipt.source, trigger=trigger)
    if job is not None:
        receipt.job = job
    return job
