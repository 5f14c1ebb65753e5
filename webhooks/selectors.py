"""Reads: receipts, the configured sources, and each source's health for the dashboard.
(What ingestion reads of a source is webhooks.config.)"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.utils import timezone

from bespin.lib.ids import parse_uuid
from bespin.lib.redis import counters_client
from webhooks import counters
from webhooks.config import load_source_config
from webhooks.models import WebhookReceipt, WebhookSource, WebhookTrigger

log = logging.getLogger("bespin.webhooks")


def source_names() -> list[str]:
    """Every configured source: rows and environment variables."""
    return sorted(set(WebhookSource.objects.values_list("name", flat=True)) | set(settings.WEBHOOK_SECRETS))


def get_receipt(receipt_id) -> WebhookReceipt | None:
    parsed = parse_uuid(receipt_id)
    if parsed is None:
        return None
    return WebhookReceipt.objects.filter(id=parsed).first()


def receipts(
    *,
    source: str | None = None,
    event: str | None = None,
    verified: bool | None = None,
    received_after: datetime | None = None,
    received_before: datetime | None = None,
):
    """Receipts newest first, narrowed by whichever filters are given."""
    found = WebhookReceipt.objects.all()
    if source:
        found = found.filter(source=source)
    if event:
        found = found.filter(event=event)
    if verified is not None:
        found = found.filter(verified=verified)
    if received_after:
        found = found.filter(received_at__gte=received_after)
    if received_before:
        found = found.filter(received_at__lt=received_before)
    return found.order_by("-received_at", "-id")


def recent_receipts(*, limit: int = 20, source: str | None = None) -> list[WebhookReceipt]:
    return list(receipts(source=source)[:limit])


@dataclass(frozen=True)
class SourceHealth:
    name: str
    scheme: str
    enabled: bool
    origin: str
    active_secrets: int
    deliveries_last_day: int
    last_success: datetime | None
    rejections_by_reason: dict[str, int]
    recent_rejections: list[dict]
    # (pattern, reason) of each trigger Bespin turned off (its task gone, say).
    disabled_triggers: list[tuple[str, str]] = ()

    @property
    def rejections_total(self) -> int:
        return sum(self.rejections_by_reason.values())


def stored_counts() -> dict[str, int]:
    """Verified deliveries stored since counting began, by source."""
    try:
        raw = counters_client().hgetall(counters.STORED_KEY)
    except redis.RedisError:
        log.warning("webhook_counts_unreadable", exc_info=True)
        return {}
    return {source.decode(): int(count) for source, count in raw.items()}


def rejection_counts(source: str) -> dict[str, int]:
    try:
        raw = counters_client().hgetall(counters.rejection_counts_key(source))
    except redis.RedisError:
        log.warning("webhook_rejections_unreadable source=%s", source, exc_info=True)
        return {}
    return {reason.decode(): int(count) for reason, count in raw.items()}


def rejection_counts_by_source() -> dict[str, dict[str, int]]:
    """rejection_counts of every configured source, in one Redis round trip."""
    names = source_names()
    try:
        pipe = counters_client().pipeline(transaction=False)
        for name in names:
            pipe.hgetall(counters.rejection_counts_key(name))
        answers = pipe.execute()
    except redis.RedisError:
        log.warning("webhook_rejections_unreadable", exc_info=True)
        return {}
    return {
        name: {reason.decode(): int(count) for reason, count in raw.items()}
        for name, raw in zip(names, answers, strict=True)
        if raw
    }


def recent_rejections(source: str) -> list[dict]:
    """The last few rejections of `source`, newest first: reason, status, message, time,
    headers (secret-bearing ones redacted) and the first bytes of the body."""
    try:
        raw = counters_client().lrange(counters.rejection_log_key(source), 0, -1)
    except redis.RedisError:
        log.warning("webhook_rejections_unreadable source=%s", source, exc_info=True)
        return []
    return [json.loads(entry) for entry in raw]


def source_health(*, names: list[str] | None = None) -> list[SourceHealth]:
    """Per source: deliveries in the last day, the last success, and the rejections
    (counts by reason, and the last few with their headers and first bytes)."""
    names = names if names is not None else source_names()
    since = timezone.now() - timedelta(days=1)
    now = time.time()
    health = []
    for name in names:
        config = load_source_config(name)
        if config is None:
            continue
        mine = WebhookReceipt.objects.filter(source=name)
        health.append(
            SourceHealth(
                name=name,
                scheme=config.scheme.name,
                enabled=config.enabled,
                origin=config.origin,
                active_secrets=len(config.active_keys(now)),
                deliveries_last_day=mine.filter(received_at__gte=since).count(),
                last_success=mine.order_by("-received_at").values_list("received_at", flat=True).first(),
                rejections_by_reason=rejection_counts(name),
                recent_rejections=recent_rejections(name),
                disabled_triggers=list(
                    WebhookTrigger.objects.filter(source__name=name, enabled=False)
                    .exclude(disabled_reason="")
                    .values_list("event_pattern", "disabled_reason")
                ),
            )
        )
    return health
