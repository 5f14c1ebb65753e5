"""DRF throttles over Bespin's rate limiter (bespin.lib.ratelimit): atomic in Redis and
shared by every server, where DRF's cache-based throttles read, then write (concurrent
requests all read the same count)."""

from rest_framework.throttling import BaseThrottle

from bespin.lib import ratelimit


class RedisRateThrottle(BaseThrottle):
    """Subclasses say the rate and what to count by."""

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
        limit = ratelimit.Limit.of(f"bespin:throttle:{self.scope}:{self.ident(request)}", rate)
        [self._wait] = ratelimit.spend([[limit]], count=count).waits
        return self._wait == 0

    def wait(self) -> float:
        return self._wait
