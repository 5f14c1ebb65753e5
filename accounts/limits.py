"""How often a signed-in user may change their API credentials on the API access page:
BESPIN_THROTTLE_CREDENTIALS per user, counted by Bespin's rate limiter as job creation is."""

from django.conf import settings

from bespin.lib.clients import client_id
from bespin.lib.throttles import RedisRateThrottle, page_throttled


class CredentialChanges(RedisRateThrottle):
    scope = "credentials"

    def rate(self, request) -> str | None:
        return settings.THROTTLE_CREDENTIALS

    def ident(self, request) -> str:
        return client_id(request)


# 429 once the user is past BESPIN_THROTTLE_CREDENTIALS.
credential_changes_throttled = page_throttled(
    CredentialChanges,
    reason="You have changed your API token or callback secret more often than this server allows.",
    back="api-access",
)
