"""Each source's per-minute rate, counted in Redis so that every server shares the count."""

import logging
import time
from collections.abc import Sequence

import redis

from bespin.redis import counters_client
from webhooks import counters
from webhooks.config import SourceConfig
from webhooks.rejections import Reason, Rejected

log = logging.getLogger("bespin.webhooks")

WINDOW_SECONDS = 60


def spend_rate(*, sources: Sequence[SourceConfig]) -> list[Rejected | None]:
    """Count one delivery per entry against its source's rate, in one round trip however
    many there are. Each entry is None, or Rejected(RATE_LIMITED) with Retry-After once its
    source's rate is spent. Without Redis, deliveries go on unlimited rather than being lost."""
    verdicts: list[Rejected | None] = [None] * len(sources)
    positions: dict[str, list[int]] = {}
    for position, source in enumerate(sources):
        if source.rate_per_minute:
            positions.setdefault(source.name, []).append(position)
    if not positions:
        return verdicts
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    try:
        pipe = counters_client().pipeline(transaction=False)
        for name, spent in positions.items():
            pipe.incrby(counters.rate_key(name, window), len(spent))
            pipe.expire(counters.rate_key(name, window), WINDOW_SECONDS * 2)
        totals = pipe.execute()[::2]
    except redis.RedisError:
        log.warning("webhook_rate_unchecked sources=%s: Redis unavailable", ",".join(positions), exc_info=True)
        return verdicts
    retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
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
