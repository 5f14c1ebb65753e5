"""Sign-in limits, on the dashboard and the admin alike: after BESPIN_LOGIN_MAX_FAILURES
failed sign-ins for a username, or from a client address, within
BESPIN_LOGIN_FAILURE_WINDOW seconds of the first, further attempts are refused with 429
before any password is checked, until that window ends.

The counts live in Redis under `bespin:signin:`, so every server shares them. Each attempt
is checked and counted in one Lua script: concurrent guesses cannot all read a count below
the limit and all go on to a password check. An attempt that succeeds gives its count back
and clears the username's failures; one that fails stays counted. Without Redis, sign-in
goes on unlimited (logged): locking every user out is worse than an unthrottled guess.
"""

import functools
import hashlib
import logging
import math

import redis
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from bespin.lib.clients import client_address
from bespin.lib.redis import counters_client

log = logging.getLogger("accounts.signin")

KEY_PREFIX = "bespin:signin:"

# KEYS: the username's counter, then the address's when there is one. ARGV: limit, window.
# Refused: the seconds until the fullest counter expires. Allowed: 0, and the attempt is
# counted against every key, the window starting at a key's first failure.
_ATTEMPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait = 0
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      -- A counter without an expiry (written by hand) would refuse for ever.
      redis.call('EXPIRE', key, window)
      ttl = window * 1000
    end
    wait = math.max(wait, math.ceil(ttl / 1000))
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, window) end
end
return 0
"""

# KEYS as above. The username's owner has just proved who they are: its failures go. The
# address's other failures stay (others may share it); only this attempt's count goes back.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
"""


def _keys(username: str, address: str) -> list[str]:
    # Hashed: people type their password into the username field, and it must not sit in Redis.
    keys = [f"{KEY_PREFIX}user:{hashlib.sha256(username.encode()).hexdigest()}"]
    if address:
        keys.append(f"{KEY_PREFIX}addr:{address}")
    return keys


def _start_attempt(keys: list[str], address: str) -> int | None:
    """0 when the attempt may check its password (and is now counted), else the seconds to
    wait; None when Redis could not count it (the attempt goes on)."""
    try:
        wait = int(
            counters_client().eval(
                _ATTEMPT, len(keys), *keys, settings.LOGIN_MAX_FAILURES, settings.LOGIN_FAILURE_WINDOW_SECONDS
            )
        )
    except redis.RedisError:
        log.warning("signin_unlimited address=%s: Redis unavailable", address, exc_info=True)
        return None
    if wait:
        log.warning("signin_refused address=%s retry_after=%d: too many failed sign-ins", address, wait)
    return wait


def _attempt_succeeded(keys: list[str], address: str) -> None:
    try:
        counters_client().eval(_SUCCEEDED, len(keys), *keys)
    except redis.RedisError:
        log.warning("signin_uncleared address=%s: Redis unavailable", address, exc_info=True)


class LimitedSignIn:
    """Mixin for an AuthenticationForm: the limits above, checked before the password.
    `retry_after` holds the seconds to wait once an attempt was refused for them."""

    retry_after: int | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            # A field is missing: its error is shown and no password is checked.
            return super().clean()
        address = client_address(self.request) if self.request is not None else ""
        keys = _keys(username, address)
        wait = _start_attempt(keys, address)
        if wait:
            self.retry_after = wait
            minutes = math.ceil(wait / 60)
            message = ngettext(
                "Too many failed sign-ins for this account or address; try again in %(minutes)d minute.",
                "Too many failed sign-ins for this account or address; try again in %(minutes)d minutes.",
                minutes,
            )
            raise ValidationError(message, code="too_many_failures", params={"minutes": minutes})
        # A ValidationError here (a wrong password, an inactive account, a non-staff account
        # at the admin) leaves the attempt counted as a failure.
        cleaned = super().clean()
        if wait is not None:  # counted, so given back; an unreachable Redis is not asked twice
            _attempt_succeeded(keys, address)
        return cleaned


class SignInForm(LimitedSignIn, AuthenticationForm):
    """The dashboard's sign-in form."""


class AdminSignInForm(LimitedSignIn, AdminAuthenticationForm):
    """The admin's sign-in form (staff only, as Django's)."""


def refused_with_429(view):
    """Wrap a sign-in view (LoginView, the admin's login) so that a form refused for the
    limits answers 429 with Retry-After: the same sign-in page, showing why."""

    @functools.wraps(view)
    def sign_in(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        # LoginView answers an invalid form with a TemplateResponse not rendered yet.
        form = (getattr(response, "context_data", None) or {}).get("form")
        if getattr(form, "retry_after", None):
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response

    return sign_in
