"""Every write of the webhooks app: receiving a delivery, counting a rejection, configuring
sources, secrets and triggers, replaying and pruning receipts.

The HTTP entry points (the ASGI ingress under Daphne, the Django view elsewhere), the admin and
the management commands all call these functions.
"""

import base64
import json
import logging
import secrets as random_secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

import redis
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import serializers

from jobs import services as job_services
from webhooks import counters, crypto, selectors
from webhooks import headers as h
from webhooks.models import SchemeName, WebhookReceipt, WebhookSecret, WebhookSource, WebhookTrigger
from webhooks.rejections import Reason, Rejected
from webhooks.schemes import get_scheme, parse_payload
from webhooks.selectors import SourceConfig, TriggerRule

log = logging.getLogger("bespin.webhooks")

# What a kept rejection shows of the body: enough to recognise it, not to store it.
REJECTION_BODY_BYTES = 256
RATE_WINDOW_SECONDS = 60


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


def receive_webhook(*, source_name: str, headers: Mapping[str, str], body: bytes) -> Accepted:
    """Verify one delivery to `source_name` and store it, starting the job its event triggers.

    Raises Rejected (unknown or disabled source, over the rate, too large, missing or bad
    signature, stale timestamp, not a JSON object) after counting it against the source.
    A redelivery of a stored delivery id returns the first receipt with `created=False`.
    """
    [accepted] = record_deliveries(deliveries=[verify_delivery(source_name=source_name, headers=headers, body=body)])
    return accepted


def verify_delivery(*, source_name: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    """Everything `receive_webhook` does before storing: the source, its rate, the size, the
    signature and the payload. Raises Rejected after counting it against the source."""
    [verified] = verify_deliveries(requests=[{"source_name": source_name, "headers": headers, "body": body}])
    if isinstance(verified, Rejected):
        raise verified
    return verified


def verify_deliveries(*, requests: Sequence[Mapping]) -> list[Delivery | Rejected]:
    """verify_delivery for several requests (`source_name`, `headers`, `body`) at once, their
    rates counted in one Redis round trip: each a Delivery, or the Rejected it earned."""
    results: list[Delivery | Rejected | None] = [None] * len(requests)
    admitted: list[tuple[int, SourceConfig]] = []
    for index, request in enumerate(requests):
        source = selectors.source_config(request["source_name"])
        if source is None:
            name = request["source_name"][:64]
            results[index] = Rejected(Reason.UNKNOWN_SOURCE, f"no webhook source named {name!r}")
            log.info("webhook_rejected source=%r reason=%s", name, Reason.UNKNOWN_SOURCE)
        elif not source.enabled:
            rejection = Rejected(Reason.SOURCE_DISABLED, f"webhook source {source.name!r} is disabled")
            results[index] = _counted(source, request, rejection)
        else:
            admitted.append((index, source))
    over_rate = spend_rate(sources=[source for _, source in admitted])
    for (index, source), rejection in zip(admitted, over_rate, strict=True):
        request = requests[index]
        try:
            if rejection is not None:
                raise rejection
            results[index] = _verified(source, request["headers"], request["body"])
        except Rejected as refused:
            results[index] = _counted(source, request, refused)
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
    source = selectors.source_config(source_name)
    if source is not None:
        record_rejection(source=source.name, rejection=rejection, headers=headers, body=head)
    return rejection


def record_delivery(
    *, source: str, event: str, delivery_id: str, payload: dict, headers: dict, trigger: TriggerRule | None = None
) -> Accepted:
    """Store one verified delivery; see record_deliveries."""
    delivery = Delivery(source, event, delivery_id, payload, headers, trigger)
    return record_deliveries(deliveries=[delivery])[0]


def record_deliveries(*, deliveries: Sequence[Delivery]) -> list[Accepted]:
    """Store verified deliveries once per (source, delivery id), each with the job its trigger
    starts, and answer each: the new receipt, or the first one for a redelivery.

    Deliveries without a trigger go in one INSERT (the ASGI ingress hands over all that
    arrived while the previous batch was being stored). A triggered one goes in its own
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
    return results


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
        job = job_services.create_job(kind=trigger.job_kind, params=trigger.params)
    except serializers.ValidationError as error:
        # The trigger was valid when saved; a kind or limit changed since. Keep the receipt.
        log.error("webhook_trigger_failed receipt=%s trigger=%r error=%s", receipt_id, trigger.pattern, error.detail)
        return None
    WebhookReceipt.objects.filter(id=receipt_id).update(job=job)
    return job


def spend_rate(*, sources: Sequence[SourceConfig]) -> list[Rejected | None]:
    """Count one delivery per entry against its source's per-minute rate, in Redis so that
    every server shares the count, in one round trip however many there are. Each entry is
    None, or Rejected(RATE_LIMITED) with Retry-After once its source's rate is spent.
    Without Redis, deliveries go on unlimited rather than being lost."""
    verdicts: list[Rejected | None] = [None] * len(sources)
    positions: dict[str, list[int]] = {}
    for position, source in enumerate(sources):
        if source.rate_per_minute:
            positions.setdefault(source.name, []).append(position)
    if not positions:
        return verdicts
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    try:
        pipe = counters.client().pipeline(transaction=False)
        for name, spent in positions.items():
            pipe.incrby(counters.rate_key(name, window), len(spent))
            pipe.expire(counters.rate_key(name, window), RATE_WINDOW_SECONDS * 2)
        totals = pipe.execute()[::2]
    except redis.RedisError:
        log.warning("webhook_rate_unchecked sources=%s: Redis unavailable", ",".join(positions), exc_info=True)
        return verdicts
    retry_after = max(1, int((window + 1) * RATE_WINDOW_SECONDS - now) + 1)
    for spent, total in zip(positions.values(), totals, strict=True):
        limit = sources[spent[0]].rate_per_minute
        before = total - len(spent)
        for count, position in enumerate(spent, start=before + 1):
            if count > limit:
                verdicts[position] = Rejected(
                    Reason.RATE_LIMITED,
                    f"over the rate of {limit} deliveries a minute for this source; retry in {retry_after} s",
                    retry_after=retry_after,
                )
    return verdicts


def record_rejection(*, source: str, rejection: Rejected, headers: Mapping[str, str], body: bytes) -> None:
    """Count a rejection by source and reason, and keep the last few (reason, time, headers
    with secret-bearing values redacted, first bytes of the body) for an operator to read."""
    log.info("webhook_rejected source=%s reason=%s status=%s", source, rejection.reason, rejection.status)
    entry = {
        "reason": rejection.reason,
        "status": rejection.status,
        "message": rejection.message,
        "at": timezone.now().isoformat(),
        "headers": h.redacted(headers),
        "body_head": body[:REJECTION_BODY_BYTES].decode("utf-8", errors="replace"),
    }
    try:
        pipe = counters.client().pipeline(transaction=False)
        pipe.hincrby(counters.rejection_counts_key(source), rejection.reason, 1)
        pipe.lpush(counters.rejection_log_key(source), json.dumps(entry))
        pipe.ltrim(counters.rejection_log_key(source), 0, settings.WEBHOOK_REJECTIONS_KEPT - 1)
        pipe.execute()
    except redis.RedisError:
        log.warning("webhook_rejection_unrecorded source=%s: Redis unavailable", source, exc_info=True)


@transaction.atomic
def replay_receipt(*, receipt: WebhookReceipt):
    """Run the receipt's source triggers again for its event: the job started, or None when
    no trigger matches now. The receipt then points at the new job."""
    source = selectors.load_source_config(receipt.source)
    trigger = source.trigger_for(receipt.event) if source else None
    if trigger is None:
        return None
    job = _start_job(receipt_id=receipt.id, trigger=trigger)
    if job is not None:
        receipt.job = job
    return job


def prune_receipts(*, older_than: timedelta, batch_size: int = 1000) -> int:
    """Delete receipts received more than `older_than` ago, `batch_size` rows per statement
    so that no single transaction holds a long lock; returns how many went."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        batch = list(WebhookReceipt.objects.filter(received_at__lt=cutoff).values_list("id", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += WebhookReceipt.objects.filter(id__in=batch).delete()[0]


# Configuration. Each change reaches this process's ingestion at once and other servers'
# within WEBHOOK_CONFIG_TTL seconds.


def _changed() -> None:
    selectors.forget_source_configs()
    transaction.on_commit(selectors.forget_source_configs)


def _full_clean(instance, exclude=None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.message_dict) from None


@transaction.atomic
def save_source(*, source: WebhookSource) -> WebhookSource:
    """Validate and save a new or changed source (the admin's form hands one over)."""
    _full_clean(source)
    source.save()
    _changed()
    return source


def create_source(
    *,
    name: str,
    scheme: str = SchemeName.BESPIN,
    enabled: bool = True,
    tolerance_seconds: int = 300,
    rate_per_minute: int | None = None,
) -> WebhookSource:
    source = WebhookSource(
        name=name, scheme=scheme, enabled=enabled, tolerance_seconds=tolerance_seconds, rate_per_minute=rate_per_minute
    )
    return save_source(source=source)


_UNCHANGED = object()


def update_source(
    *,
    source: WebhookSource,
    scheme=_UNCHANGED,
    enabled=_UNCHANGED,
    tolerance_seconds=_UNCHANGED,
    rate_per_minute=_UNCHANGED,
) -> WebhookSource:
    """Change the given settings of a source; the others stay as they are."""
    changes = {
        "scheme": scheme,
        "enabled": enabled,
        "tolerance_seconds": tolerance_seconds,
        "rate_per_minute": rate_per_minute,
    }
    for field, value in changes.items():
        if value is not _UNCHANGED:
            setattr(source, field, value)
    return save_source(source=source)


@transaction.atomic
def delete_source(*, source: WebhookSource) -> None:
    """Delete a source with its secrets and triggers; its receipts stay."""
    source.delete()
    _changed()


def generate_secret(*, scheme: str) -> str:
    """A new random secret in the form the scheme expects (Standard Webhooks: whsec_ + base64)."""
    if scheme == SchemeName.STANDARD:
        return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()
    if scheme == SchemeName.STRIPE:
        return "whsec_" + random_secrets.token_hex(32)
    return random_secrets.token_hex(32)


@transaction.atomic
def add_secret(*, source: WebhookSource, secret: str, expires_at: datetime | None = None) -> WebhookSecret:
    """Add an active secret to a source, stored encrypted. An empty secret, or one the
    source's scheme cannot use (Standard Webhooks needs base64), is refused."""
    secret = secret.strip()
    if not secret:
        raise serializers.ValidationError({"secret": ["an empty secret never verifies"]})
    if get_scheme(source.scheme).key(secret) is None:
        raise serializers.ValidationError({"secret": [f"not a secret the {source.scheme} scheme can use"]})
    stored = WebhookSecret.objects.create(
        source=source, ciphertext=crypto.encrypt(secret), fingerprint=crypto.fingerprint(secret), expires_at=expires_at
    )
    _changed()
    return stored


def retire_secret(*, secret: WebhookSecret, after: timedelta = timedelta(0)) -> WebhookSecret:
    """Stop a secret verifying, now or after `after` (time for the sender to switch)."""
    return set_secret_expiry(secret=secret, expires_at=timezone.now() + after)


@transaction.atomic
def set_secret_expiry(*, secret: WebhookSecret, expires_at: datetime | None) -> WebhookSecret:
    """The secret verifies until `expires_at`; None: until retired."""
    secret.expires_at = expires_at
    secret.save(update_fields=["expires_at"])
    _changed()
    return secret


@transaction.atomic
def delete_secret(*, secret: WebhookSecret) -> None:
    secret.delete()
    _changed()


@transaction.atomic
def set_trigger(
    *, source: WebhookSource, event_pattern: str, job_kind: str, params: dict | None = None, enabled: bool = True
) -> WebhookTrigger:
    """Start a `job_kind` job with `params` for each verified delivery whose event matches
    `event_pattern`; the parameters are checked now with the kind's serializer."""
    event_pattern = event_pattern.strip()
    if not event_pattern:
        raise serializers.ValidationError({"event_pattern": ["an event name, or a pattern with * wildcards"]})
    kind, clean_params = job_services.validate_params(kind=job_kind, params=params if params is not None else {})
    trigger, _ = WebhookTrigger.objects.update_or_create(
        source=source,
        event_pattern=event_pattern,
        defaults={"job_kind": kind.name, "params": clean_params, "enabled": enabled},
    )
    _changed()
    return trigger


@transaction.atomic
def delete_trigger(*, trigger: WebhookTrigger) -> None:
    trigger.delete()
    _changed()
