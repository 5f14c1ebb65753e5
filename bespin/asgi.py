"""ASGI entry point: HTTP through Django, WebSockets through Channels. The parts that live in
apps are named in settings (ASGI_HTTP_MIDDLEWARE, ASGI_WEBSOCKET_URLPATTERNS), as Django's
own middleware and URLs are: the project imports no app."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bespin.settings")
django_wsgi_app = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from bespin.server import gctune  # noqa: E402
from bespin.server.bodylimit import guard_daphne  # noqa: E402
from bespin.server.wsgi_bridge import ThreadedWsgi  # noqa: E402
from bespin.server.wslimit import SocketsPerAddress  # noqa: E402
from bespin.server.wsprotocol import defer_config_dump  # noqa: E402
from bespin.server.wssession import SessionCookieMiddleware  # noqa: E402


class BrowserOriginValidator(OriginValidator):
    """Refuse a browser page from a foreign site (it would carry the user's session cookie);
    let through clients that send no Origin at all, such as scripts and the CLI."""

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)


# In front of Django, the first listed outermost: each answers what is its own (webhook
# deliveries) and hands every other request on.
http_middleware = [import_string(path) for path in settings.ASGI_HTTP_MIDDLEWARE]


def body_refused(path: str, headers: dict, head: bytes) -> None:
    """A body Daphne refused as too large: each middleware that wants to know is told."""
    for middleware in http_middleware:
        if hasattr(middleware, "body_refused"):
            middleware.body_refused(path, headers, head)


# Under Daphne, request bodies are bounded before Twisted buffers them (bespin/server/bodylimit.py).
guard_daphne(on_refused=body_refused)
defer_config_dump()

http = ThreadedWsgi(django_wsgi_app)  # Django, as WSGI in a pool of threads (bespin/server/wsgi_bridge.py)
for middleware in reversed(http_middleware):
    http = middleware(http)
application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": BrowserOriginValidator(
            SocketsPerAddress(SessionCookieMiddleware(URLRouter(import_string(settings.ASGI_WEBSOCKET_URLPATTERNS)))),
            settings.ALLOWED_HOSTS,
        ),
    }
)
# What start-up built lives as long as the process: the collector need not walk it again.
gctune.settle()
