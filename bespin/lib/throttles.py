"""DRF throttles over Bespin's rate limiter (bespin.lib.ratelimit): atomic in Redis and
shared by every server, where DRF's cache-based throttles read, then write (concurrent
requests all read the same count); and the same limits for the dashboard's pages."""

import functools
import math

from django.shortcuts import render
from django.urls import reverse
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


def page_throttled(throttle_class: type[RedisRateThrottle], *, reason: str, back: str):
    """For a dashboard view: answer 429 (the page 429.html saying `reason`, when to try
    again and a link to the URL named `back`, and Retry-After) once the caller is past
    `throttle_class`'s rate; otherwise count the request and run the view."""

    def decorate(view):
        @functools.wraps(view)
        def limited(request, *args, **kwargs):
            throttle = throttle_class()
            if throttle.allow(request):
                return view(request, *args, **kwargs)
            wait = max(1, math.ceil(throttle.wait()))
            context = {"reason": reason, "retry_after": wait, "back": reverse(back)}
            response = render(request, "429.html", context, status=429)
            response["Retry-After"] = str(wait)
            return response

        return limited

    return decorate
