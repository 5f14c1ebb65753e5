"""Fixtures for the webhooks tests: sources made through the services, signers written from
each provider's documentation (independently of webhooks.schemes), and the ASGI application
called the way Daphne calls it."""

import asyncio

import pytest

from webhooks import selectors, services


@pytest.fixture(autouse=True)
def fresh_source_cache():
    # Sources live in rows that each test rolls back; the in-process cache must not outlive them.
    selectors.forget_source_configs()
    yield
    selectors.forget_source_configs()


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


async def asgi_post(path: str, chunks, headers: dict, *, host: str = "localhost"):
    """Call bespin.asgi.application as Daphne does, the body in `http.request` messages, one per
    item of `chunks` (which may be endless). Returns (status, headers, body, messages read)."""
    from bespin.asgi import application

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
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
