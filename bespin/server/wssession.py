"""Who opened a WebSocket, looked up only when a consumer needs it.

Channels' AuthMiddlewareStack loads the session and the user for every socket, each a thread
hop (and a query when there is a session), before the consumer runs. A socket that watches
one job needs neither: the job's id is the capability. Here the middleware only reads the
session cookie, and a consumer that needs the user asks `user_for` in the same thread hop
as its own reads.
"""

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie


class SessionCookieMiddleware:
    """Puts the session cookie's value, or None, in the scope as `session_key`."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        session_key = None
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                session_key = parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME) or session_key
        return await self.inner({**scope, "session_key": session_key}, receive, send)


def user_for(session_key: str | None):
    """The signed-in user of a session (checked as Django checks a request's), or AnonymousUser.
    Synchronous: call it from the consumer's thread hop."""
    if not session_key:
        return AnonymousUser()
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return auth.get_user(SimpleNamespace(session=session))
