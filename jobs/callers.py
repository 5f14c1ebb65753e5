"""Who asks for a job, and what they may ask: the policy the API and the dashboard apply
before jobs.services.lifecycle creates anything.

Anonymous callers get a small, bounded slice: each kind's anonymous ceilings, at most
BESPIN_ANON_MAX_UNFINISHED jobs not yet finished, BESPIN_THROTTLE_ANON creations per
address, or none at all with BESPIN_ANON_CREATE=0. Signed-in users get their own, larger
rate and cap, which their schedules' ticks count against too. Jobs started by webhook
triggers have no caller and no limits.
"""

from dataclasses import dataclass

from django.conf import settings

from bespin.lib.clients import client_id, user_client
from bespin.lib.throttles import RedisRateThrottle


@dataclass(frozen=True)
class Caller:
    owner: object  # the signed-in user, or None
    client: str  # what limits and Idempotency-Keys count by (bespin.lib.clients.client_id)
    max_unfinished: int  # 0: no cap

    @property
    def anonymous(self) -> bool:
        return self.owner is None


def caller_of(request) -> Caller:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Caller(owner=user, client=client_id(request), max_unfinished=settings.USER_MAX_UNFINISHED)
    return Caller(owner=None, client=client_id(request), max_unfinished=settings.ANON_MAX_UNFINISHED)


def caller_for_user(user) -> Caller:
    """A signed-in user as the caller of jobs started on their behalf (their schedules' ticks)."""
    return Caller(owner=user, client=user_client(user.pk), max_unfinished=settings.USER_MAX_UNFINISHED)


class CreationThrottle(RedisRateThrottle):
    """Job creation (and cancel/retry, which cost as much): BESPIN_THROTTLE_ANON per address
    for anonymous callers, BESPIN_THROTTLE_USER per user."""

    scope = "create"

    def rate(self, request) -> str | None:
        return settings.THROTTLE_USER if request.user.is_authenticated else settings.THROTTLE_ANON

    def ident(self, request) -> str:
        return client_id(request)
