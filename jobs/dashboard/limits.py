"""The dashboard's ways to make or change jobs (start, cancel, retry, the bulk actions) count
against the same creation rate as the API's: a browser form is no cheaper a way in."""

import functools
import math

from django.shortcuts import render
from django.urls import reverse

from jobs.callers import CreationThrottle


def creation_throttled(view):
    """Answer 429 (a page saying when to try again, and Retry-After) once the caller is past
    BESPIN_THROTTLE_ANON or BESPIN_THROTTLE_USER; otherwise count the request and run `view`."""

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        throttle = CreationThrottle()
        if throttle.allow(request):
            return view(request, *args, **kwargs)
        wait = max(1, math.ceil(throttle.wait()))
        context = {
            "reason": "You have started, cancelled or retried jobs faster than this server allows.",
            "retry_after": wait,
            "back": reverse("job-list"),
        }
        response = render(request, "429.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response

    return limited
