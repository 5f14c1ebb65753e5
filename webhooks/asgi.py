"""The ASGI ingress for deliveries: `POST /api/webhooks/<source>` is answered here, under
Daphne, and every other request goes on to Django unchanged.

Why not a Django view: on this kind of machine Django's ASGI handler spends about 8 ms of CPU
on every request (a thread per request, and a thread hop around each sync-only middleware),
which caps a server near 110 requests a second whatever the view does. Here a delivery costs
one hop to a worker thread, which calls the same service as the Django view.

It is also where the size limit is enforced. Django's ASGI handler spools the whole body to
a temporary file before any view runs, and bounds it only by a Content-Length that the client
may leave out (chunked) or understate. The ingress refuses a declared length over the limit
without reading the body, and stops reading an undeclared or understated one at limit + 1 bytes.
"""

import json
import logging
import re

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http.request import split_domain_port, validate_host

from webhooks import api
from webhooks import headers as h
from webhooks.headers import Headers

log = logging.getLogger("bespin.webhooks")

INGEST_PATH = re.compile(r"/api/webhooks/([^/]+)")


def _host_allowed(host: str | None) -> bool:
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host or "")
    return bool(domain) and validate_host(domain, allowed)


def _in_worker_thread(answer, **kwargs) -> api.Answer:
    try:
        return answer(**kwargs)
    except Exception:
        log.exception("webhook_ingress_error source=%s", kwargs.get("source_name"))
        return api.Answer(500, {"error": "internal server error"})
    finally:
        _close_broken_connections()


def _close_broken_connections() -> None:
    """The few worker threads of the ingress keep their database connection from one delivery
    to the next: taking one from the pool each time costs a health-check query. One that
    failed and does not answer any more is closed; the next delivery opens a new one."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()


_run = sync_to_async(_in_worker_thread, thread_sensitive=False)


async def _read_bounded(receive, limit: int) -> bytes | None:
    """The body, or its first limit + 1 bytes once it is longer; None if the client left."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send, answer: api.Answer) -> None:
    body = json.dumps(answer.data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class WebhookIngress:
    """ASGI middleware: deliveries here, everything else to `app` (Django)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        match = INGEST_PATH.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = Headers.from_asgi(scope["headers"])
        if not _host_allowed(headers.get("host")):
            # Django refuses it with its usual 400 and log line.
            return await self.app(scope, receive, send)
        source_name = match[1]
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        declared = api.declared_length(headers.get(h.CONTENT_LENGTH))
        if declared is not None and declared > limit:
            answer = await _run(api.answer_too_large, source_name=source_name, headers=headers, head=b"")
        else:
            body = await _read_bounded(receive, limit)
            if body is None:
                return
            if len(body) > limit:
                answer = await _run(api.answer_too_large, source_name=source_name, headers=headers, head=body)
            else:
                answer = await _run(api.answer_delivery, source_name=source_name, headers=headers, body=body)
        await _send(send, answer)
