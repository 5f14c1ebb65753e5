"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bespin.settings")
django_wsgi_app = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from bespin import gctune  # noqa: E402
from bespin.bodylimit import guard_daphne  # noqa: E402
from bespin.wsgi_bridge import ThreadedWsgi  # noqa: E402
from bespin.wsprotocol import defer_config_dump  # noqa: E402
from bespin.wssession import SessionCookieMiddleware  # noqa: E402
from jobs.routing import websocket_urlpatterns  # noqa: E402
from webhooks.ingress import WebhookIngress, count_too_large  # noqa: E402


class BrowserOriginValidator(OriginValidator):
    """Refuse a browser page from a foreign site (it would carry the user's session cookie);
    let through clients that send no Origin at all, such as scripts and the CLI."""

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)


# Under Daphne, request bodies are bounded before Twisted buffers them (bespin/bodylimit.py).
guard_daphne(on_refused=count_too_large)
defer_config_dump()

application = ProtocolTypeRouter(
    {
        # Webhook deliveries are answered by the ingress; every other request by Django,
        # as WSGI in a pool of threads (see bespin/wsgi_bridge.py for why).
        "http": WebhookIngress(ThreadedWsgi(django_wsgi_app)),
        "websocket": BrowserOriginValidator(
            SessionCookieMiddleware(URLRouter(websocket_urlpatterns)), settings.ALLOWED_HOSTS
        ),
    }
)
# What start-up built lives as long as the process: the collector need not walk it again.
gctune.settle()
