"""`POST /api/webhooks/<source>`: the one way a delivery comes in.

An ASGI middleware in front of Django (bespin.asgi): deliveries are answered here, every
other request goes on to Django unchanged. Why not a Django view: under load, deliveries
that arrive while a batch is being stored wait and go together in the next one (_Batcher),
one thread hop and one `INSERT … ON CONFLICT` for all of them, which docs/BENCHMARKS.md
measures against one delivery at a time (BESPIN_WEBHOOK_MAX_BATCH=1). A Django view could
only store each on its own.

The body is read no further than BESPIN_WEBHOOK_MAX_BYTES (bespin.server.bodylimit): a declared
length over it is refused before any of it is read, and an undeclared (chunked) or
understated one after limit + 1 bytes; either way the refusal counts against the source.
"""

import asyncio
import json
import logging
import re
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import connections
from django.http.request import split_domain_port, validate_host

from bespin.lib import outages
from bespin.lib.clients import address_of
from bespin.server import bodylimit
from webhooks import headers as h
from webhooks import receipts, verification
from webhooks.headers import Headers
from webhooks.rejections import Rejected

log = logging.getLogger("bespin.webhooks")

INGEST_PATH = re.compile(r"/api/webhooks/([^/]+)")


@dataclass(frozen=True)
class Answer:
    status: int
    data: dict
    headers: dict = field(default_factory=dict)


def _refused(rejection: Rejected) -> Answer:
    extra = {h.RETRY_AFTER: str(rejection.retry_after)} if rejection.retry_after else {}
    return Answer(rejection.status, {"error": rejection.message}, extra)


def answer_deliveries(requests: list[dict]) -> list[Answer]:
    """The answer to each delivery (`source_name`, `headers`, `body`): 201 with a new receipt,
    200 with the first one for a redelivery, or the rejection. The verified ones are stored
    together; whatever goes wrong with one delivery is its answer alone."""
    answers: list[Answer | None] = [None] * len(requests)
    verified: list[tuple[int, verification.Delivery]] = []
    for index, outcome in enumerate(verification.verify_deliveries(requests=requests)):
        if isinstance(outcome, Rejected):
            answers[index] = _refused(outcome)
        else:
            verified.append((index, outcome))
    stored = receipts.record_deliveries(deliveries=[delivery for _, delivery in verified])
    for (index, _), accepted in zip(verified, stored, strict=True):
        if isinstance(accepted, Rejected):
            answers[index] = _refused(accepted)
            continue
        data = {
            "id": str(accepted.receipt_id),
            "event": accepted.event,
            "job_id": str(accepted.job_id) if accepted.job_id else None,
            "duplicate": not accepted.created,
        }
        answers[index] = Answer(201 if accepted.created else 200, data)
    return answers


def _host_allowed(host: str | None) -> bool:
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return _valid_host(host or "", tuple(allowed))


@lru_cache(maxsize=256)
def _valid_host(host: str, allowed: tuple[str, ...]) -> bool:
    # Django's own check, cached: a server sees few host names.
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


def _in_thread(work, *args) -> list[Answer]:
    """Run `work` off the event loop; a failure is logged and answered (503 while a part is
    down, else 500), never raised into the server. Afterwards the thread's database connection
    goes back to the pool, as Django's request_finished does after a view."""
    try:
        return work(*args)
    except Exception as exc:
        part = outages.unavailable_part(exc)
        if part is not None:
            log.warning("webhook_ingress_unavailable part=%s: %s", part, exc)
            retry = {h.RETRY_AFTER: str(outages.RETRY_AFTER_SECONDS)}
            return [Answer(503, outages.unavailable_body(part), retry)] * len(args[0])
        log.exception("webhook_ingress_error")
        return [Answer(500, {"error": "internal server error"})] * len(args[0])
    finally:
        connections.close_all()


def _answer_too_large(requests: list[dict]) -> list[Answer]:
    return [
        _refused(verification.reject_too_large(source_name=r["source_name"], headers=r["headers"], head=r["head"]))
        for r in requests
    ]


# Batches are stored one at a time, so one thread stores them; the other counts refused
# oversized bodies, so that those never wait behind a batch.
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhooks-ingress")


class _Batcher:
    """Deliveries that arrive while a batch is being stored wait, and go together in the next.
    A thread hop costs about as much CPU as the server's whole handling of a request, so
    under load no delivery pays for one alone; under light load a batch is one delivery,
    stored at once."""

    def __init__(self):
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.draining = False

    async def answer(self, request: dict) -> Answer:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((request, future))
        if not self.draining:
            self.draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        size = settings.WEBHOOK_MAX_BATCH
        try:
            while self.pending:
                batch, self.pending = self.pending[:size], self.pending[size:]
                requests = [request for request, _ in batch]
                answers = await loop.run_in_executor(_executor, _in_thread, answer_deliveries, requests)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():  # a sender that hung up has had its future cancelled
                        future.set_result(answer)
        finally:
            self.draining = False
            for _, future in self.pending:
                if not future.done():
                    future.set_result(Answer(503, {"error": "the server is shutting down"}))


# One batcher per event loop: a server has one, tests run several.
_batchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher]" = weakref.WeakKeyDictionary()


def _batcher() -> _Batcher:
    loop = asyncio.get_running_loop()
    if loop not in _batchers:
        _batchers[loop] = _Batcher()
    return _batchers[loop]


async def _send(send, answer: Answer) -> None:
    body = json.dumps(answer.data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class WebhookIngress:
    """ASGI middleware (settings.ASGI_HTTP_MIDDLEWARE): deliveries here, everything else to
    `app` (Django)."""

    def __init__(self, app):
        self.app = app

    @staticmethod
    def body_refused(path: str, headers: Mapping[str, str], head: bytes) -> None:
        """A body the server refused as too large (bespin.asgi) counts against its source."""
        count_too_large(path, headers, head)

    async def __call__(self, scope, receive, send):
        match = INGEST_PATH.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = Headers.from_asgi(scope["headers"])
        if not _host_allowed(headers.get("host")):
            # Django refuses it with its usual 400 and log line.
            return await self.app(scope, receive, send)
        answer = await self.answer(scope, match[1], headers, receive)
        if answer is not None:
            await _send(send, answer)

    @staticmethod
    async def answer(scope: dict, source_name: str, headers: Mapping[str, str], receive) -> Answer | None:
        remote = (scope.get("client") or ("",))[0] or ""
        address = address_of(remote, headers.get("x-forwarded-for"))
        request = {"source_name": source_name, "headers": headers, "address": address}
        try:
            body = await bodylimit.read_body(scope, receive)
        except bodylimit.Disconnected:
            return None  # the sender hung up
        except bodylimit.TooLarge as refused:
            loop = asyncio.get_running_loop()
            [answer] = await loop.run_in_executor(
                _executor, _in_thread, _answer_too_large, [request | {"head": refused.head}]
            )
            return answer
        return await _batcher().answer(request | {"body": body})


def count_too_large(path: str, headers: Mapping[str, str], head: bytes) -> None:
    """For bodylimit.guard_daphne: a delivery Daphne refused as too large counts against its source."""
    match = INGEST_PATH.fullmatch(path)
    if match:
        _in_thread(_answer_too_large, [{"source_name": match[1], "headers": Headers(headers.items()), "head": head}])
