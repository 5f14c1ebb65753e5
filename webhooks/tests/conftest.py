"""Fixtures for the webhooks tests: sources made through the services, signers written from
each provider's documentation (independently of webhooks.schemes), and the ASGI application
called the way Daphne calls it."""

import asyncio
import time

import pytest

from jobs.tests.processes import Processes
from webhooks import selectors, services


@pytest.fixture(autouse=True)
def fresh_source_cache():
    # Sources live in rows that each test rolls back; the in-process cache must not outlive them.
    selectors.forget_source_configs()
    yield
    selectors.forget_source_configs()


@pytest.fixture
def rate_window():
    """Wait, if need be, until a new per-minute rate window has just begun, so that a test's
    few deliveries are all counted in one window."""

    def start() -> None:
        from webhooks.services import RATE_WINDOW_SECONDS

        left = RATE_WINDOW_SECONDS - time.time() % RATE_WINDOW_SECONDS
        if left < 5:
            time.sleep(left + 0.05)

    return start


@pytest.fixture
def make_source(db):
    def make(name="acme", *, scheme="bespin", secrets=("acme-secret",), **settings):
        source = services.create_source(name=name, scheme=scheme, **settings)
        for secret in secrets:
            services.add_secret(source=source, secret=secret)
        return source

    return make


@pytest.fixture
def deliver(api):
    """POST a raw body to /api/webhooks/<source> through Django's test client."""

    def post(source: str, body: bytes, headers: dict | None = None):
        return api.generic("POST", f"/api/webhooks/{source}", body, "application/json", headers=headers or {})

    return post


async def asgi_post(path: str, chunks, headers: dict, *, host: str = "localhost", method: str = "POST"):
    """Call bespin.asgi.application as Daphne does, the body in `http.request` messages, one per
    item of `chunks` (which may be endless). Returns (status, headers, body, messages read)."""
    from bespin.asgi import application

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", host.encode())] + [(k.lower().encode(), str(v).encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    pending = iter(chunks)
    read = 0
    finished = False

    async def receive():
        nonlocal read, finished
        if finished:
            await asyncio.Event().wait()  # after the body, only a disconnect could come
        read += 1
        chunk = next(pending, None)
        if chunk is None:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
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
