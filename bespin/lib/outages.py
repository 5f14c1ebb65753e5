"""While PostgreSQL or Redis is down or restarting, a request that needs it is answered 503
with Retry-After and a JSON error naming the part that is down, never 500; the next request
tries again, so the server recovers by itself once the part is back.

Requests that can do without the part still succeed: a job is created while Redis is down
(PostgreSQL holds it and the recovery sweep enqueues it), and a delivery's rate goes
uncounted rather than lost.
"""

import logging

import psycopg
import redis
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse

log = logging.getLogger("bespin.http")

# Long enough for a restart; short enough that clients come back soon after.
RETRY_AFTER_SECONDS = 5


def unavailable_part(exc: BaseException) -> str | None:
    """ "database" or "redis" when `exc` says that part cannot be reached, else None."""
    # Django's errors from the ORM; psycopg's own (a PoolTimeout among them) from bespin.lib.asyncdb.
    if isinstance(exc, OperationalError | InterfaceError | psycopg.OperationalError | psycopg.InterfaceError):
        return "database"
    if isinstance(exc, DatabaseError) and "connection" in str(exc).lower():
        return "database"
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return "redis"
    return None


def unavailable_body(part: str) -> dict:
    return {"error": f"the {part} is unavailable; retry in a few seconds"}


class OutageMiddleware:
    """The Django side: an exception that says a part is down becomes a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        part = unavailable_part(exception)
        if part is None:
            return None
        log.warning("unavailable part=%s path=%s: %s", part, request.path, exception)
        return JsonResponse(unavailable_body(part), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
