"""No request makes a server process hold more than its body limit, in memory or on disk.

The limits: BESPIN_WEBHOOK_MAX_BYTES for deliveries (`/api/webhooks/…`), BESPIN_MAX_BODY_BYTES
for everything else. Past them the answer is 413 with a JSON error, and the connection closes.

Two places enforce them, because servers differ:
- Daphne (Twisted) buffers a whole request body, to memory or to a temporary file, before
  the application sees any of it, whatever Content-Length says or when the body is chunked.
  `guard_daphne()` puts the limit in front of that buffer: a declared length over the limit
  is refused before any of the body is read, and a longer body (chunked, or understated)
  as soon as it passes limit bytes; nothing past the limit is kept.
- Any ASGI server (uvicorn streams bodies to the application): `read_body()`, which the
  WSGI bridge and the webhook ingress read with, stops at limit + 1 bytes.
"""

import json
import logging
from functools import cache

from django.conf import settings

log = logging.getLogger("bespin.http")

WEBHOOK_PREFIX = "/api/webhooks/"
# After a 413, a client still sending is read (and dropped) this long, so that it sees the
# answer instead of a reset connection; then the connection is cut.
LINGER_SECONDS = 2.0
# What is kept of a refused body for whoever counts refusals (a webhook rejection shows 256).
HEAD_BYTES = 1024


def body_limit(path: str) -> tuple[int, str]:
    """The largest body a request to `path` may carry, and the setting that says so."""
    if path.startswith(WEBHOOK_PREFIX):
        return settings.WEBHOOK_MAX_BODY_BYTES, "BESPIN_WEBHOOK_MAX_BYTES"
    return settings.MAX_BODY_BYTES, "BESPIN_MAX_BODY_BYTES"


def too_large_message(path: str) -> str:
    limit, setting = body_limit(path)
    return f"the body is over the limit of {limit} bytes ({setting})"


def too_large_body(path: str) -> bytes:
    return json.dumps({"error": too_large_message(path)}).encode()


class TooLarge(Exception):
    """The body ran past the limit; `head` is what was read of it (limit + 1 bytes at most)."""

    def __init__(self, head: bytes):
        self.head = head


class Disconnected(Exception):
    """The client left before its body was read."""


def declared_length(raw: str | bytes | None) -> int | None:
    """Content-Length as a number; None when absent or not a number (the body decides then)."""
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    raw = (raw or "").strip()
    # isascii: "²" is a digit to str.isdigit, not to int().
    return int(raw) if raw.isascii() and raw.isdigit() else None


async def read_body(scope: dict, receive) -> bytes:
    """The request body from ASGI `http.request` messages, no further than the path's limit:
    raises TooLarge (before reading any of it when Content-Length declares more, else after
    limit + 1 bytes), or Disconnected."""
    limit, _ = body_limit(scope.get("path", ""))
    declared = declared_length(dict(scope.get("headers") or ()).get(b"content-length"))
    if declared is not None and declared > limit:
        raise TooLarge(b"")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise TooLarge(b"".join(chunks)[: limit + 1])
        if not message.get("more_body", False):
            return b"".join(chunks)


# Daphne


@cache
def guard_daphne(on_refused=None) -> None:
    """Bound the body Daphne's Twisted request buffers (see the module's docstring). Called
    once, when Daphne imports the application; `on_refused(path, headers, head)` is then run
    in a thread for each refused request (the webhooks app counts its rejections there)."""
    from daphne.http_protocol import WebRequest
    from twisted.internet import reactor

    original_got_length = WebRequest.gotLength
    original_chunk = WebRequest.handleContentChunk
    original_process = WebRequest.process

    def refuse(request, path: str, head: bytes) -> None:
        request._bespin_refused = True
        body = too_large_body(path)
        transport = request.channel.transport
        transport.write(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        transport.loseWriteConnection()
        reactor.callLater(LINGER_SECONDS, transport.abortConnection)
        if on_refused is not None:
            headers = {name.decode("latin-1"): b",".join(values).decode("latin-1")
                       for name, values in request.requestHeaders.getAllRawHeaders()}  # fmt: skip
            reactor.callInThread(on_refused, path, headers, head)

    def got_length(request, length):
        # Twisted would parse a POST's Content-Type with the email package and a form or
        # multipart body into request.args, which Daphne never reads: a fifth of the CPU of
        # a small JSON POST, and a multipart body copied and parsed whole.
        request._parsePOSTFormSubmission = False
        raw_path = getattr(request.channel, "_path", b"/")
        path = raw_path.split(b"?", 1)[0].decode("latin-1")
        request._bespin_path = path
        request._bespin_limit, _ = body_limit(path)
        request._bespin_size = 0
        request._bespin_refused = False
        if length is not None and length > request._bespin_limit:
            # No "100 Continue" for a body that will not be read.
            request.requestHeaders.removeHeader(b"expect")
            original_got_length(request, 0)
            refuse(request, path, b"")
            return
        original_got_length(request, length)

    def handle_content_chunk(request, data):
        if request._bespin_refused:
            return  # dropped: the answer is out
        request._bespin_size += len(data)
        if request._bespin_size > request._bespin_limit:
            request.content.seek(0)
            head = (request.content.read(HEAD_BYTES) + data)[:HEAD_BYTES]
            request.content.seek(0)
            request.content.truncate()
            refuse(request, request._bespin_path, head)
            return
        original_chunk(request, data)

    def process(request):
        if getattr(request, "_bespin_refused", False):
            return None  # answered already; the application never sees it
        return original_process(request)

    # Each keeps what it replaced as its __wrapped__, for the test of the library's shape.
    got_length.__wrapped__ = original_got_length
    handle_content_chunk.__wrapped__ = original_chunk
    process.__wrapped__ = original_process
    WebRequest.gotLength = got_length
    WebRequest.handleContentChunk = handle_content_chunk
    WebRequest.process = process
