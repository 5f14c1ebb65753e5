"""Bespin's one rate limiter: counts in Redis, so that every server shares them, checked and
counted in one step, so that a burst of concurrent requests cannot slip past a limit. Job
creation (bespin.lib.throttles), sign-in (accounts.signin) and webhook deliveries
(webhooks.ratelimit) all count here.

A limit of N per window means at most N in any window-long stretch of time (a sliding
window, as DRF's throttles mean it). Each key is a sorted set of the times of what it let
through, trimmed and counted by one Lua script; the clock is Redis's own, so servers with
skewed clocks agree. One call checks any number of attempts, each against one or more keys
(all of which must have room), in one round trip.

Without Redis every attempt goes through (logged): a limit is not worth an outage.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from bespin.env import parse_rate
from bespin.lib.redis import counters_client

log = logging.getLogger("bespin.http")

__all__ = ["Limit", "Spent", "clear", "give_back", "parse_rate", "spend"]

# KEYS: every attempt's keys in order. ARGV[1]: this call's token; then for each attempt: how
# many it counts for, how many keys it has, and (limit, window in ms) for each key. Returns
# each attempt's wait in ms: 0 when it was counted, else how long until it would fit.
_SPEND = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local token = ARGV[1]
local waits = {}
local k, a, attempt = 1, 2, 1
while a <= #ARGV do
  local count, keys = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local wait = 0
  for j = 0, keys - 1 do
    local key, limit, window = KEYS[k + j], tonumber(ARGV[a + 2 * j]), tonumber(ARGV[a + 2 * j + 1])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local over = redis.call('ZCARD', key) + count - limit
    if over > 0 then
      local until_free = window
      if count <= limit then
        local freeing = tonumber(redis.call('ZRANGE', key, over - 1, over - 1, 'WITHSCORES')[2])
        until_free = math.max(1, math.ceil(freeing + window - now))
      end
      wait = math.max(wait, until_free)
    end
  end
  if wait == 0 then
    for j = 0, keys - 1 do
      local key, window = KEYS[k + j], tonumber(ARGV[a + 2 * j + 1])
      for i = 1, count do redis.call('ZADD', key, now, token .. ':' .. attempt .. ':' .. i) end
      redis.call('PEXPIRE', key, window)
    end
  end
  waits[attempt] = wait
  k, a, attempt = k + keys, a + 2 * keys, attempt + 1
end
return waits
"""


@dataclass(frozen=True)
class Limit:
    """At most `limit` in any `window` seconds under `key`."""

    key: str
    limit: int
    window: float

    @classmethod
    def of(cls, key: str, rate: str) -> "Limit":
        """From a rate such as `120/min`."""
        limit, window = parse_rate(rate)
        return cls(key, limit, window)


@dataclass(frozen=True)
class Spent:
    """Each attempt's wait in seconds (0: counted), and the token its counts carry."""

    waits: list[float]
    token: str
    counted: bool = True  # False when Redis could not count them (all went through)


def spend(attempts: Sequence[Sequence[Limit]], *, count: int = 1) -> Spent:
    """Count each attempt (`count` each, such as a batch's jobs) against all of its limits,
    in order: an attempt goes through only when every one of them has room, and is then
    counted against each; one that does not is not counted at all."""
    token = uuid.uuid4().hex
    keys, args = [], [token]
    for limits in attempts:
        args += [count, len(limits)]
        for limit in limits:
            keys.append(limit.key)
            args += [limit.limit, int(limit.window * 1000)]
    if not attempts:
        return Spent([], token)
    try:
        waits = counters_client().eval(_SPEND, len(keys), *keys, *args)
    except redis.RedisError:
        log.warning("rate_unchecked keys=%s: Redis unavailable", ",".join(sorted(set(keys))), exc_info=True)
        return Spent([0.0] * len(attempts), token, counted=False)
    return Spent([float(wait) / 1000 for wait in waits], token)


def give_back(spent: Spent, attempt: int, limit: Limit, *, count: int = 1) -> None:
    """Take back what attempt number `attempt` (from 0) of `spent` counted under `limit`."""
    members = [f"{spent.token}:{attempt + 1}:{i}" for i in range(1, count + 1)]
    try:
        counters_client().zrem(limit.key, *members)
    except redis.RedisError:
        log.warning("rate_not_given_back key=%s: Redis unavailable", limit.key, exc_info=True)


def clear(limit: Limit) -> None:
    """Forget everything counted under `limit`."""
    try:
        counters_client().delete(limit.key)
    except redis.RedisError:
        log.warning("rate_not_cleared key=%s: Redis unavailable", limit.key, exc_info=True)
