"""The ASGI ingress for deliveries: `POST /api/webhooks/<source>` is answered here, under
Daphne, and every other request goes on to Django unchanged.

Why not a Django view: on this kind of machine Django's ASGI handler spends about 8 ms of CPU
on every request (a thread per request, and a thread hop around each sync-only middleware),
which caps a server near 110 requests a second whatever the view does. Here deliveries are
verified and stored by the same functions as the Django view's, in a worker thread, in
batches (see _Batcher).

It is also where the size limit is enforced. Django's ASGI handler spools the whole body to
a temporary file before any view runs, and bounds it only by a Content-Length that the client
may leave out (chunked) or understate. The ingress refuses a declared length over the limit
without reading the body, and stops reading an undeclared or understated one at limit + 1 bytes.
"""

import asyncio
import json
import logging
import re
import weakref
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial

from django.conf import settings
from django.db import connections
from django.http.request import split_domain_port, validate_host

from webhooks import api
from webhooks import headers as h
from webhooks.headers import Headers

log = logging.getLogger("bespin.webhooks")

INGEST_PATH = re.compile(r"/api/webhooks/([^/]+)")
MAX_BATCH = 100


def _host_allowed(host: str | None) -> bool:
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return _valid_host(host or "", tuple(allowed))


@lru_cache(maxsize=256)
def _valid_host(host: str, allowed: tuple[str, ...]) -> bool:
    # Cached: a server sees few host names, and Django's check is a loop over patterns.
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


def _release_connections() -> None:
    # What Django's request_finished signal does after a view: the thread's connection goes
    # back to the pool (a checkout costs a health-check query, once a batch).
    connections.close_all()


def _answer_batch(requests: list[dict]) -> list[api.Answer]:
    try:
        return api.answer_deliveries(requests)
    except Exception:
        log.exception("webhook_ingress_error deliveries=%d", len(requests))
        return [api.Answer(500, {"error": "internal server error"})] * len(requests)
    finally:
        _release_connections()


def _answer_too_large(request: dict) -> api.Answer:
    try:
        return api.answer_too_large(**request)
    except Exception:
        log.exception("webhook_ingress_error source=%s", request.get("source_name"))
        return api.Answer(413, {"error": "the body is over the size limit"})
    finally:
        _release_connections()


# Off the event loop, which must not wait on the database. Batches are stored one at a time,
# so one thread stores them; the other counts refused oversized bodies.
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhooks-ingress")


class _Batcher:
    """Deliveries that arrive while a batch is being stored wait, and go together in the next:
    one hop to the worker thread and one INSERT for all of them. A hop costs about as much CPU
    as Daphne's whole handling of a request (0.4 ms here), so no delivery pays for one alone
    under load. Under light load a batch is one delivery, stored at once."""

    def __init__(self):
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.draining = False

    async def answer(self, request: dict) -> api.Answer:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((request, future))
        if not self.draining:
            self.draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                answers = await loop.run_in_executor(_executor, _answer_batch, [request for request, _ in batch])
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():  # a sender that hung up has had its future cancelled
                        future.set_result(answer)
        finally:
            self.draining = False
            for _, future in self.pending:
                if not future.done():
                    future.set_result(api.Answer(503, {"error": "the server is shutting down"}))


# One batcher per event loop: a server has one, tests start several.
_batchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher]" = weakref.WeakKeyDictionary()


def _batcher() -> _Batcher:
    loop = asyncio.get_running_loop()
    if loop not in _batchers:
        _batchers[loop] = _Batcher()
    return _batchers[loop]


async def _too_large(request: dict) -> api.Answer:
    return await asyncio.get_running_loop().run_in_executor(_executor, partial(_answer_too_large, request))


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
        request = {"source_name": match[1], "headers": headers}
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        declared = api.declared_length(headers.get(h.CONTENT_LENGTH))
        if declared is not None and declared > limit:
            answer = await _too_large(request | {"head": b""})
        else:
            body = await _read_bounded(receive, limit)
            if body is None:
                return
            if len(body) > limit:
                answer = await _too_large(request | {"head": body})
            else:
                answer = await _batcher().answer(request | {"body": body})
        await _send(send, answer)
