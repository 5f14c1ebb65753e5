"""Budgets of deliveries a minute, counted by Bespin's rate limiter (bespin.lib.ratelimit)
so that every server shares them:

- each source's rate (its row, or BESPIN_WEBHOOK_RATE_PER_MINUTE), spent only by verified
  deliveries;
- what fails verification, per source and sender address
  (BESPIN_WEBHOOK_UNVERIFIED_RATE_PER_MINUTE), so that a flood of junk from one address is
  told to back off without touching the real sender's budget.
"""

import math
from collections.abc import Sequence

from django.conf import settings

from bespin.lib import ratelimit
from webhooks import counters
from webhooks.config import SourceConfig
from webhooks.rejections import Reason, Rejected

WINDOW_SECONDS = 60


def spend(
    *, verified: Sequence[SourceConfig], unverified: Sequence[tuple[SourceConfig, str]]
) -> tuple[list[Rejected | None], list[Rejected | None]]:
    """Count each verified delivery against its source's rate and each unverified one against
    its (source, address), in one round trip however many there are. For each entry: None,
    or Rejected with Retry-After once its budget is spent. Without Redis, deliveries go on
    unlimited rather than being lost."""
    junk_limit = settings.WEBHOOK_UNVERIFIED_RATE_PER_MINUTE
    attempts: list[list[ratelimit.Limit]] = []
    for source in verified:
        limit = source.rate_per_minute
        attempts.append([ratelimit.Limit(counters.rate_key(source.name), limit, WINDOW_SECONDS)] if limit else [])
    for source, address in unverified:
        key = counters.unverified_rate_key(source.name, address)
        attempts.append([ratelimit.Limit(key, junk_limit, WINDOW_SECONDS)] if junk_limit else [])
    limited = [index for index, limits in enumerate(attempts) if limits]
    verdicts: list[Rejected | None] = [None] * len(attempts)
    if limited:
        waits = ratelimit.spend([attempts[index] for index in limited]).waits
        for index, wait in zip(limited, waits, strict=True):
            if wait:
                verdicts[index] = _over(attempts[index][0], index >= len(verified), max(1, math.ceil(wait)))
    return verdicts[: len(verified)], verdicts[len(verified) :]


def _over(limit: ratelimit.Limit, unverified: bool, retry_after: int) -> Rejected:
    if unverified:
        return Rejected(
            Reason.UNVERIFIED_RATE_LIMITED,
            f"over {limit.limit} unverified deliveries a minute from this address to this source; "
            f"retry in {retry_after} s",
            retry_after=retry_after,
        )
    return Rejected(
        Reason.RATE_LIMITED,
        f"over the rate of {limit.limit} deliveries a minute for this source; retry in {retry_after} s",
        retry_after=retry_after,
    )
