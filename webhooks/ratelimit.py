"""Per-minute budgets of deliveries, counted in Redis so that every server shares them:

- each source's rate (its row, or BESPIN_WEBHOOK_RATE_PER_MINUTE), spent only by verified
  deliveries;
- what fails verification, per source and sender address
  (BESPIN_WEBHOOK_UNVERIFIED_RATE_PER_MINUTE), so that a flood of junk from one address is
  told to back off without touching the real sender's budget.
"""

import logging
import time
from collections.abc import Sequence

import redis
from django.conf import settings

from bespin.lib.redis import counters_client
from webhooks import counters
from webhooks.config import SourceConfig
from webhooks.rejections import Reason, Rejected

log = logging.getLogger("bespin.webhooks")

WINDOW_SECONDS = 60


def spend(
    *, verified: Sequence[SourceConfig], unverified: Sequence[tuple[SourceConfig, str]]
) -> tuple[list[Rejected | None], list[Rejected | None]]:
    """Count each verified delivery against its source's rate and each unverified one against
    its (source, address), in one round trip however many there are. For each entry: None,
    or Rejected with Retry-After once its budget for this minute is spent. Without Redis,
    deliveries go on unlimited rather than being lost."""
    source_limits = {source.name: source.rate_per_minute for source in verified if source.rate_per_minute}
    junk_limit = settings.WEBHOOK_UNVERIFIED_RATE_PER_MINUTE
    budgets: dict[str, list[int]] = {}  # Redis key -> positions (verified, then unverified) spending it
    limits: dict[str, int] = {}
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    for position, source in enumerate(verified):
        if source.name in source_limits:
            key = counters.rate_key(source.name, window)
            budgets.setdefault(key, []).append(position)
            limits[key] = source_limits[source.name]
    for offset, (source, address) in enumerate(unverified):
        if junk_limit:
            key = counters.unverified_rate_key(source.name, address, window)
            budgets.setdefault(key, []).append(len(verified) + offset)
            limits[key] = junk_limit
    verdicts: list[Rejected | None] = [None] * (len(verified) + len(unverified))
    if budgets:
        _count(budgets, limits, verdicts, retry_after=max(1, int((window + 1) * WINDOW_SECONDS - now) + 1))
    return verdicts[: len(verified)], verdicts[len(verified) :]


def _count(budgets: dict[str, list[int]], limits: dict[str, int], verdicts: list, *, retry_after: int) -> None:
    try:
        pipe = counters_client().pipeline(transaction=False)
        for key, spent in budgets.items():
            pipe.incrby(key, len(spent))
            pipe.expire(key, WINDOW_SECONDS * 2)
        totals = pipe.execute()[::2]
    except redis.RedisError:
        log.warning("webhook_rate_unchecked: Redis unavailable", exc_info=True)
        return
    for (key, spent), total in zip(budgets.items(), totals, strict=True):
        limit = limits[key]
        for count, position in enumerate(spent, start=total - len(spent) + 1):
            if count > limit:
                verdicts[position] = _over(key, limit, retry_after)


def _over(key: str, limit: int, retry_after: int) -> Rejected:
    if counters.is_unverified_rate_key(key):
        return Rejected(
            Reason.UNVERIFIED_RATE_LIMITED,
            f"over {limit} unverified deliveries a minute from this address to this source; retry in {retry_after} s",
            retry_after=retry_after,
        )
    return Rejected(
        Reason.RATE_LIMITED,
        f"over the rate of {limit} deliveries a minute for this source; retry in {retry_after} s",
        retry_after=retry_after,
    )
