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

from bespin.redis import counters_client

log = logging.getLogger("bespin.http")

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}  # fmt: skip

_SLIDING_WINDOW = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
    return math.max(1, math.ceil(oldest + window - now))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


def parse_rate(rate: str) -> tuple[int, float]:
    """`120/min` as (120, 60.0)."""
    match = re.fullmatch(r"(\d+)/(\w+)", rate)
    if not match or match[2] not in _PERIODS or int(match[1]) < 1:
        raise ValueError(f"{rate!r} is not a rate such as 120/min")
    return int(match[1]), float(_PERIODS[match[2]])


def spend(key: str, rate: str) -> float:
    """Count one request against `rate` under `key`: 0 when allowed, else the seconds until
    one more is. Without Redis the request goes through (logged): a limit is not worth an outage."""
    limit, period = parse_rate(rate)
    try:
        wait_ms = counters_client().eval(_SLIDING_WINDOW, 1, key, int(period * 1000), limit, uuid.uuid4().hex)
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
        rate = self.rate(request)
        if not rate:
            return True
        self._wait = spend(f"bespin:throttle:{self.scope}:{self.ident(request)}", rate)
        return self._wait == 0

    def wait(self) -> float:
        return self._wait
