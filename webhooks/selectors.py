"""Reads: a source's configuration (cached in-process for ingestion), receipts, and each
source's health for the dashboard."""

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.utils import timezone

from webhooks import counters, crypto
from webhooks.models import SOURCE_NAME_PATTERN, SchemeName, WebhookReceipt, WebhookSource
from webhooks.schemes import SCHEMES, Scheme, get_scheme

log = logging.getLogger("bespin.webhooks")

_SOURCE_NAME = re.compile(SOURCE_NAME_PATTERN)
# Unknown names are cached too (as None), so a flood of made-up names costs no queries; the
# cache is bounded so that it cannot grow with them.
_CACHE_MAX_ENTRIES = 1024


class Origin:
    ENVIRONMENT = "environment"
    DATABASE = "database"
    BOTH = "environment+database"


@dataclass(frozen=True)
class TriggerRule:
    pattern: str
    job_kind: str
    params: dict
    regex: re.Pattern = field(repr=False, compare=False)

    @classmethod
    def build(cls, *, pattern: str, job_kind: str, params: dict) -> "TriggerRule":
        regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
        return cls(pattern=pattern, job_kind=job_kind, params=params, regex=regex)

    @property
    def specificity(self) -> tuple[int, int]:
        # More literal characters is more specific; "push" beats "pu*" beats "*".
        return (len(self.pattern.replace("*", "")), -self.pattern.count("*"))


@dataclass(frozen=True)
class SourceConfig:
    """What ingestion needs of a source, with its secrets decrypted into HMAC keys."""

    name: str
    scheme: Scheme
    enabled: bool
    tolerance_seconds: int
    rate_per_minute: int
    keys: tuple[tuple[bytes, float | None], ...] = field(repr=False)  # (key, expires at: unix time or None)
    triggers: tuple[TriggerRule, ...] = ()
    origin: str = Origin.DATABASE

    def active_keys(self, now: float) -> list[bytes]:
        return [key for key, expires in self.keys if expires is None or expires > now]

    def trigger_for(self, event: str) -> TriggerRule | None:
        """The most specific trigger whose pattern matches the whole event name."""
        matching = [rule for rule in self.triggers if rule.regex.fullmatch(event)]
        return max(matching, key=lambda rule: rule.specificity, default=None)


_cache: dict[str, tuple[float, SourceConfig | None]] = {}
_cache_lock = threading.Lock()


def forget_source_configs() -> None:
    """Drop this process's cached configurations (after a change, or a settings change in tests)."""
    with _cache_lock:
        _cache.clear()


def source_config(name: str) -> SourceConfig | None:
    """The configuration of source `name`, or None when no such source exists.

    Cached for WEBHOOK_CONFIG_TTL seconds: a change made on another server reaches this one
    within that time; a change made in this process (through services) at once.
    """
    name = name.lower()
    now = time.monotonic()
    cached = _cache.get(name)
    if cached is not None and cached[0] > now:
        return cached[1]
    config = load_source_config(name)
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX_ENTRIES:
            _cache.clear()
        _cache[name] = (now + settings.WEBHOOK_CONFIG_TTL, config)
    return config


def _environment_scheme(name: str) -> str:
    # A source that lives only in the environment and is named after a scheme uses it.
    return name if name in SCHEMES else SchemeName.BESPIN


def load_source_config(name: str) -> SourceConfig | None:
    if not _SOURCE_NAME.match(name):
        return None
    env_secrets = settings.WEBHOOK_SECRETS.get(name)
    row = WebhookSource.objects.filter(name=name).prefetch_related("secrets", "triggers").first()
    if row is None and env_secrets is None:
        return None
    scheme = get_scheme(row.scheme if row else _environment_scheme(name))
    keys: list[tuple[bytes, float | None]] = []
    for secret in env_secrets or ():
        if (key := scheme.key(secret)) is not None:
            keys.append((key, None))
    triggers: list[TriggerRule] = []
    if row is not None:
        for stored in row.secrets.all():
            secret = crypto.decrypt(stored.ciphertext)
            if secret is None:
                log.error("webhook_secret_undecryptable source=%s fingerprint=%s", name, stored.fingerprint)
                continue
            if (key := scheme.key(secret)) is not None:
                keys.append((key, stored.expires_at.timestamp() if stored.expires_at else None))
        triggers = [
            TriggerRule.build(pattern=trigger.event_pattern, job_kind=trigger.job_kind, params=trigger.params)
            for trigger in row.triggers.all()
            if trigger.enabled
        ]
    rate = row.rate_per_minute if row is not None and row.rate_per_minute is not None else None
    return SourceConfig(
        name=name,
        scheme=scheme,
        enabled=row.enabled if row else True,
        tolerance_seconds=row.tolerance_seconds if row else settings.WEBHOOK_TOLERANCE_SECONDS,
        rate_per_minute=settings.WEBHOOK_RATE_PER_MINUTE if rate is None else rate,
        keys=tuple(keys),
        triggers=tuple(triggers),
        origin=Origin.BOTH if row and env_secrets is not None else Origin.DATABASE if row else Origin.ENVIRONMENT,
    )


def source_names() -> list[str]:
    """Every configured source: rows and environment variables."""
    return sorted(set(WebhookSource.objects.values_list("name", flat=True)) | set(settings.WEBHOOK_SECRETS))


def parse_receipt_id(raw) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (TypeError, ValueError, AttributeError):
        return None


def get_receipt(receipt_id) -> WebhookReceipt | None:
    parsed = parse_receipt_id(receipt_id)
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

    @property
    def rejections_total(self) -> int:
        return sum(self.rejections_by_reason.values())


def rejection_counts(source: str) -> dict[str, int]:
    try:
        raw = counters.client().hgetall(counters.rejection_counts_key(source))
    except redis.RedisError:
        log.warning("webhook_rejections_unreadable source=%s", source, exc_info=True)
        return {}
    return {reason.decode(): int(count) for reason, count in raw.items()}


def recent_rejections(source: str) -> list[dict]:
    """The last few rejections of `source`, newest first: reason, status, message, time,
    headers (secret-bearing ones redacted) and the first bytes of the body."""
    try:
        raw = counters.client().lrange(counters.rejection_log_key(source), 0, -1)
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
            )
        )
    return health
