"""Receiving deliveries: verify each against its source (rate, size, signature, payload),
store the verified ones once per delivery id with the job a trigger starts, and count the
refused ones. webhooks.ingress is the HTTP side; the admin's replay comes here too.
"""

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import serializers

from bespin.redis import counters_client
from jobs import creation
from webhooks import config, counters, ratelimit
from webhooks import headers as h
from webhooks.config import SourceConfig, TriggerRule
from webhooks.models import WebhookReceipt
from webhooks.payload import parse_payload
from webhooks.rejections import Reason, Rejected, record_rejection

log = logging.getLogger("bespin.webhooks")


@dataclass(frozen=True)
class Accepted:
    receipt_id: uuid.UUID
    event: str
    job_id: uuid.UUID | None
    created: bool  # False for a redelivery: the receipt is the first delivery's


@dataclass(frozen=True)
class Delivery:
    """A verified delivery, ready to be stored."""

    source: str
    event: str
    delivery_id: str
    payload: dict
    headers: dict
    trigger: TriggerRule | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.delivery_id)


def verify_deliveries(*, requests: Sequence[Mapping]) -> list[Delivery | Rejected]:
    """Verify requests (`source_name`, `headers`, `body`, and the sender's `address`) to
    their sources: each a Delivery, or the Rejected it earned (counted against its source).

    Only verified deliveries spend their source's rate, so that junk never locks the real
    sender out; what fails verification is limited apart, per source and sender address
    (BESPIN_WEBHOOK_UNVERIFIED_RATE_PER_MINUTE), and answered 429 past it. Both are counted
    in one Redis round trip for the whole batch."""
    results: list[Delivery | Rejected | None] = [None] * len(requests)
    verified: list[tuple[int, SourceConfig, Delivery]] = []
    unverified: list[tuple[int, SourceConfig, Rejected]] = []
    for index, request in enumerate(requests):
        source = config.source_config(request["source_name"])
        if source is None:
            name = request["source_name"][:64]
            results[index] = Rejected(Reason.UNKNOWN_SOURCE, f"no webhook source named {name!r}")
            log.info("webhook_rejected source=%r reason=%s", name, Reason.UNKNOWN_SOURCE)
        elif not source.enabled:
            rejection = Rejected(Reason.SOURCE_DISABLED, f"webhook source {source.name!r} is disabled")
            results[index] = _counted(source, request, rejection)
        else:
            try:
                verified.append((index, source, _verified(source, request["headers"], request["body"])))
            except Rejected as refused:
                unverified.append((index, source, refused))
    over_rate, over_junk = ratelimit.spend(
        verified=[source for _, source, _ in verified],
        unverified=[(source, requests[index].get("address", "")) for index, source, _ in unverified],
    )
    for (index, source, delivery), rejection in zip(verified, over_rate, strict=True):
        results[index] = delivery if rejection is None else _counted(source, requests[index], rejection)
    for (index, source, refused), rejection in zip(unverified, over_junk, strict=True):
        results[index] = _counted(source, requests[index], rejection or refused)
    return results


def _verified(source: SourceConfig, headers: Mapping[str, str], body: bytes) -> Delivery:
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        raise too_large()
    now = time.time()
    source.scheme.verify(
        body=body, headers=headers, keys=source.active_keys(now), tolerance=source.tolerance_seconds, now=now
    )
    payload = parse_payload(body)
    event = source.scheme.event(headers=headers, payload=payload)
    return Delivery(
        source=source.name,
        event=event,
        delivery_id=source.scheme.delivery_id(headers=headers, payload=payload, body=body),
        payload=payload,
        headers=h.stored(headers),
        trigger=source.trigger_for(event),
    )


def _counted(source: SourceConfig, request: Mapping, rejection: Rejected) -> Rejected:
    record_rejection(source=source.name, rejection=rejection, headers=request["headers"], body=request["body"])
    return rejection


def too_large() -> Rejected:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    return Rejected(Reason.TOO_LARGE, f"the body is over the limit of {limit} bytes (BESPIN_WEBHOOK_MAX_BYTES)")


def reject_too_large(*, source_name: str, headers: Mapping[str, str], head: bytes) -> Rejected:
    """For an HTTP entry point that refused a body over the size limit before reading it all:
    count the rejection against the source, if there is one, and return it."""
    rejection = too_large()
    source = config.source_config(source_name)
    if source is not None:
        record_rejection(source=source.name, rejection=rejection, headers=headers, body=head)
    return rejection


def record_deliveries(*, deliveries: Sequence[Delivery]) -> list[Accepted]:
    """Store verified deliveries once per (source, delivery id), each with the job its trigger
    starts, and answer each: the new receipt, or the first one for a redelivery.

    Deliveries without a trigger go in one INSERT (the ingress hands over all that arrived
    while the previous batch was being stored). A triggered one goes in its own
    transaction with its job. Under a race an insert waits for the other to commit and then
    gets the first row back, so identical deliveries arriving together store one receipt.
    """
    answers: dict[tuple[str, str], Accepted] = {}
    plain: dict[tuple[str, str], Delivery] = {}
    for delivery in deliveries:
        if delivery.key in answers or delivery.key in plain:
            continue  # the same delivery twice in one batch: answered as a redelivery below
        if delivery.trigger is None:
            plain[delivery.key] = delivery
        else:
            answers[delivery.key] = _record_triggered(delivery)
    if plain:
        answers.update(_insert_receipts(list(plain.values())))
    results, seen = [], set()
    for delivery in deliveries:
        accepted = answers[delivery.key]
        if delivery.key in seen and accepted.created:
            accepted = replace(accepted, created=False)
        seen.add(delivery.key)
        results.append(accepted)
    _count_stored([delivery.source for delivery, accepted in zip(deliveries, results, strict=True) if accepted.created])
    return results


def _count_stored(sources: list[str]) -> None:
    """Add the new receipts to each source's count in Redis (a counter for metrics, which
    pruning receipts never takes back). Without Redis the count misses them; nothing else does."""
    if not sources:
        return
    try:
        pipe = counters_client().pipeline(transaction=False)
        for source, stored in Counter(sources).items():
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
    job = _start_job(receipt_id=receipt_id, trigger=delivery.trigger)
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


def _start_job(*, receipt_id: uuid.UUID, trigger: TriggerRule):
    try:
        job = creation.create_job(kind=trigger.job_kind, params=trigger.params)
    except serializers.ValidationError as error:
        # The trigger was valid when saved; a kind or limit changed since. Keep the receipt.
        log.error("webhook_trigger_failed receipt=%s trigger=%r error=%s", receipt_id, trigger.pattern, error.detail)
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
    job = _start_job(receipt_id=receipt.id, trigger=trigger)
    if job is not None:
        receipt.job = job
    return job
