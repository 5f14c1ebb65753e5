"""What ingestion needs to know of a source, decrypted and cached in-process.

A source lives in a row (scheme, limits, secrets, triggers), in the environment
(`<SOURCE>_WEBHOOK_SECRET`), or both. `source_config` caches what it loaded for
WEBHOOK_CONFIG_TTL seconds, so a delivery costs no query for its source.
"""

import logging
import re
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

from bespin.lib import crypto
from webhooks.models import SOURCE_NAME_PATTERN, SchemeName, WebhookSource
from webhooks.schemes import SCHEMES, get_scheme
from webhooks.signatures import Scheme

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
    # The pattern's literal runs, split at each `*`.
    parts: tuple[str, ...] = field(repr=False, compare=False)

    @classmethod
    def build(cls, *, pattern: str, job_kind: str, params: dict) -> "TriggerRule":
        return cls(pattern=pattern, job_kind=job_kind, params=params, parts=tuple(pattern.split("*")))

    def matches(self, event: str) -> bool:
        """Whether the pattern matches the whole event name, `*` standing for any run of
        characters. In linear time, whatever the pattern: the first run must start the name and
        the last end it, and each run between is taken at its leftmost place after the one
        before (leftmost is never worse, a `*` on both sides taking up the rest). A
        backtracking regex takes exponential time on `*a*a*a*a*a*b` against a long name,
        holding up every delivery."""
        if len(self.parts) == 1:
            return event == self.parts[0]
        first, *between, last = self.parts
        end = len(event) - len(last)
        if end < len(first) or not event.startswith(first) or not event.endswith(last):
            return False
        at = len(first)
        for run in between:
            found = event.find(run, at, end)
            if found < 0:
                return False
            at = found + len(run)
        return True

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
        matching = [rule for rule in self.triggers if rule.matches(event)]
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
