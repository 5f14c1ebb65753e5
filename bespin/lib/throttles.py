"""Rates counted atomically in Redis, so that every server shares them and a burst of
concurrent requests cannot slip past a limit (DRF's cache-based throttles read, then write:
concurrent requests all read the same count).

A limit of N per period means what DRF's throttles mean by it: at most N requests in any
period-long stretch of time. Each key is a sorted set of the times of the requests it let
through, trimmed and counted in one Lua script, so that checking and counting are one step.
The clock is Redis's own, so servers with skewed clocks agree.
"""

import logging
import re
import uuid

import redis
from rest_framework.throttling import BaseThrottle

from bespin.lib.redis import counters_client

log = logging.getLogger("bespin.http")

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}  # fmt: skip

# KEYS[1]: the key. ARGV: window (ms), limit, a unique prefix for this request's entries, how
# many it counts for. Returns 0 (counted) or the milliseconds until it would fit.
_SLIDING_WINDOW = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window, limit, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local over = redis.call('ZCARD', KEYS[1]) + count - limit
if over > 0 then
    if count > limit then return window end
    local freeing = tonumber(redis.call('ZRANGE', KEYS[1], over - 1, over - 1, 'WITHSCORES')[2])
    return math.max(1, math.ceil(freeing + window - now))
end
for i = 1, count do redis.call('ZADD', KEYS[1], now, ARGV[3] .. i) end
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


def parse_rate(rate: str) -> tuple[int, float]:
    """`120/min` as (120, 60.0)."""
    match = re.fullmatch(r"(\d+)/(\w+)", rate)
    if not match or match[2] not in _PERIODS or int(match[1]) < 1:
        raise ValueError(f"{rate!r} is not a rate such as 120/min")
    return int(match[1]), float(_PERIODS[match[2]])


def spend(key: str, rate: str, *, count: int = 1) -> float:
    """Count `count` requests (a batch's jobs) against `rate` under `key`: 0 when allowed, else
    the seconds until they would be. Without Redis the request goes through (logged): a limit
    is not worth an outage."""
    limit, period = parse_rate(rate)
    try:
        wait_ms = counters_client().eval(
            _SLIDING_WINDOW, 1, key, int(period * 1000), limit, uuid.uuid4().hex + ":", count
        )
    except redis.RedisError:
        log.warning("rate_unchecked key=%s: Redis unavailable", key, exc_info=True)
        return 0.0
    return float(wait_ms) / 1000


class RedisRateThrottle(BaseThrottle):
    """A DRF throttle over `spend`: subclasses say the rate and what to count by."""

    scope = "requests"

    def rate(self, request) -> str | None:
        raise NotImplementedError

    def ident(self, request) -> str:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        return self.allow(request)

    def allow(self, request, *, count: int = 1) -> bool:
        """Whether `count` more requests are allowed now (counting them when they are)."""
        rate = self.rate(request)
        if not rate:
            return True
        self._wait = spend(f"bespin:throttle:{self.scope}:{self.ident(request)}", rate, count=count)
        return self._wait == 0

    def wait(self) -> float:
        return self._wait
