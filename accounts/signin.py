"""Sign-in limits, on the dashboard and the admin alike: past BESPIN_LOGIN_MAX_FAILURES
failed sign-ins for a username from one client address, or BESPIN_LOGIN_ADDRESS_MAX_FAILURES
from one address whatever the usernames, within any BESPIN_LOGIN_FAILURE_WINDOW seconds,
further attempts from there are refused with 429 before any password is checked, until the
oldest of those failures is that old. Failures from elsewhere never lock a user out: the
owner of `admin` signs in from their own address while someone guesses its password from
another. (An IPv6 client's address is its network: bespin.lib.clients.)

The counts are Bespin's rate limiter's (bespin.lib.ratelimit), so every server shares them.
Each attempt is checked and counted in one step: concurrent guesses cannot all read a count
below the limit and all go on to a password check. An attempt that succeeds gives its count
back and clears the username's failures; one that fails stays counted. Without Redis,
sign-in goes on unlimited (logged): locking every user out is worse than an unthrottled guess.
"""

import functools
import hashlib
import logging
import math

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from bespin.lib import ratelimit
from bespin.lib.clients import client_address

log = logging.getLogger("accounts.signin")

KEY_PREFIX = "bespin:signin:"


def _limits(username: str, address: str) -> list[ratelimit.Limit]:
    """The limit of the username from this address, then the address's when there is one."""
    # Hashed: people type their password into the username field, and it must not sit in Redis.
    pair = hashlib.sha256(f"{username}\n{address}".encode()).hexdigest()
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    limits = [ratelimit.Limit(f"{KEY_PREFIX}user:{pair}", settings.LOGIN_MAX_FAILURES, window)]
    if address:
        limits.append(ratelimit.Limit(f"{KEY_PREFIX}addr:{address}", settings.LOGIN_ADDRESS_MAX_FAILURES, window))
    return limits


def _attempt_succeeded(spent: ratelimit.Spent, limits: list[ratelimit.Limit]) -> None:
    # The username's owner has just proved who they are: its failures from here go. The
    # address's other failures stay (others may share it); only this attempt's count goes back.
    ratelimit.clear(limits[0])
    for limit in limits[1:]:
        ratelimit.give_back(spent, 0, limit)


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
        limits = _limits(username, address)
        spent = ratelimit.spend([limits])
        wait = math.ceil(spent.waits[0])
        if wait:
            log.warning("signin_refused address=%s retry_after=%d: too many failed sign-ins", address, wait)
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
        if spent.counted:  # an unreachable Redis is not asked twice
            _attempt_succeeded(spent, limits)
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
