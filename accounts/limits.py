"""How often a signed-in user may change their API credentials on the API access page:
BESPIN_THROTTLE_CREDENTIALS per user, counted by Bespin's rate limiter as job creation is."""

import functools
import math

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse

from bespin.lib.clients import client_id
from bespin.lib.throttles import RedisRateThrottle


class CredentialChanges(RedisRateThrottle):
    scope = "credentials"

    def rate(self, request) -> str | None:
        return settings.THROTTLE_CREDENTIALS

    def ident(self, request) -> str:
        return client_id(request)


def credential_changes_throttled(view):
    """Answer 429 (a page saying when to try again, and Retry-After) once the user is past
    BESPIN_THROTTLE_CREDENTIALS; otherwise count the request and run `view`."""

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        throttle = CredentialChanges()
        if throttle.allow(request):
            return view(request, *args, **kwargs)
        wait = max(1, math.ceil(throttle.wait()))
        context = {
            "reason": "You have changed your API token or callback secret more often than this server allows.",
            "retry_after": wait,
            "back": reverse("api-access"),
        }
        response = render(request, "429.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response

    return limited
