"""Fixtures for the webhooks tests: sources made through webhooks.sources, deliveries sent
to the ASGI application the way Daphne sends them, and a Daphne process. The signers are in
signing.py, written from each provider's documentation (independently of webhooks.schemes)."""

import asyncio
import json
import uuid
from dataclasses import dataclass

import pytest
from django.utils import timezone

from bespin.testing.processes import Processes
from webhooks import config, sources
from webhooks.models import WebhookReceipt


@pytest.fixture(autouse=True)
def fresh_source_cache():
    # Sources live in rows that each test rolls back; the in-process cache must not outlive them.
    config.forget_source_configs()
    yield
    config.forget_source_configs()


@pytest.fixture
def make_source(db):
    def make(name="acme", *, scheme="bespin", secrets=("acme-secret",), **settings):
        source = sources.create_source(name=name, scheme=scheme, **settings)
        for secret in secrets:
            sources.add_secret(source=source, secret=secret)
        return source

    return make


@pytest.fixture
def make_receipt(db):
    """A stored receipt, as a verified delivery leaves one (the deliveries themselves are
    tested through the ingress)."""

    def make(source="acme", event="order.paid", delivery_id=None, payload=None, received_at=None, **fields):
        return WebhookReceipt.objects.create(
            source=source, event=event, delivery_id=delivery_id or uuid.uuid4().hex,
            payload={"event": event} if payload is None else payload, headers=fields.pop("headers", {}),
            received_at=received_at or timezone.now(), **fields,
        )  # fmt: skip

    return make


@dataclass
class Delivered:
    """What the server answered a delivery."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self):
        return json.loads(self.content)

    def __getitem__(self, header: str) -> str:
        return self.headers[header.lower()]


@pytest.fixture
def deliver(transactional_db):
    """POST a raw body to /api/webhooks/<source> through bespin.asgi.application, the entry
    point Daphne serves. The ingress stores deliveries from a thread of its own, on a database
    connection of its own: the tests that use this commit (transactional_db)."""

    def post(source: str, body: bytes, headers: dict | None = None, **options) -> Delivered:
        headers = {"content-type": "application/json", "content-length": len(body), **(headers or {})}
        status, response_headers, content, _ = asyncio.run(
            asgi_post(f"/api/webhooks/{source}", [body], headers, **options)
        )
        decoded = {name.decode("latin-1"): value.decode("latin-1") for name, value in response_headers.items()}
        return Delivered(status, decoded, content)

    return post


def _wire(value: str) -> bytes:
    # What an HTTP client puts on the wire: latin-1 where it can, UTF-8 bytes otherwise.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


async def asgi_post(path: str, chunks, headers: dict, *, host: str = "localhost", method: str = "POST"):
    """Call bespin.asgi.application as Daphne does, the body in `http.request` messages, one per
    item of `chunks` (which may be endless). Returns (status, headers, body, messages read)."""
    from bespin.asgi import application

    raw_headers = [(b"host", host.encode())]
    raw_headers += [(name.lower().encode("latin-1"), _wire(str(value))) for name, value in headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": raw_headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    pending = iter(chunks)
    read = 0
    finished = False
    answered = asyncio.Event()

    async def receive():
        nonlocal read, finished
        if finished:
            # After the body only a disconnect can come: once the answer is out, the client leaves.
            await answered.wait()
            return {"type": "http.disconnect"}
        read += 1
        chunk = next(pending, None)
        if chunk is None:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered.set()

    await asyncio.wait_for(application(scope, receive, send), timeout=30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, read


LIVE_SECRET = "live-secret"
LIVE_MAX_BYTES = 4096


@pytest.fixture(scope="module")
def live_daphne(django_db_setup, tmp_path_factory):
    """Daphne as a process on the test database, with the environment source `live` and a
    size limit of LIVE_MAX_BYTES; yields (host, port)."""
    processes = Processes(
        tmp_path_factory.mktemp("daphne"), LIVE_WEBHOOK_SECRET=LIVE_SECRET,
        BESPIN_WEBHOOK_MAX_BYTES=str(LIVE_MAX_BYTES), BESPIN_WEBHOOK_RATE_PER_MINUTE="0", LOG_LEVEL="WARNING",
    )  # fmt: skip
    host, port = processes.web().split(":")
    yield (host, int(port))
    processes.stop_all()
