"""At most BESPIN_WS_MAX_PER_ADDRESS WebSockets open at once per client address (an IPv6
client's /64: bespin.lib.clients), across every server: each open socket is a member of its
address's sorted set in Redis, with a lease its server renews while it is open, so the
sockets of a server that died stop counting once their leases run out. One over the cap is
accepted and closed at once with 4429 and a JSON reason, as the consumers refuse (a browser
shows a close code only for a socket that opened). Without Redis, sockets are let in
(logged): streams need Redis anyway.
"""

import asyncio
import json
import logging
import uuid

from django.conf import settings

from bespin.lib.clients import address_of
from bespin.lib.redis import async_counters_client

log = logging.getLogger("bespin.http")

CLOSE_TOO_MANY = 4429
KEY_PREFIX = "bespin:ws:open:"
LEASE_MS = 60_000
RENEW_SECONDS = LEASE_MS / 1000 / 3

# KEYS[1]: the address's set. ARGV: member, cap (0: only renew), lease in ms. On Redis's clock,
# shared by every server. 1: counted; 0: at the cap.
_OPEN = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
local cap = tonumber(ARGV[2])
if cap > 0 and redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= cap then
    return 0
end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


class SocketsPerAddress:
    """ASGI middleware in front of the WebSocket routes."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        cap = settings.WS_MAX_PER_ADDRESS
        if scope["type"] != "websocket" or not cap:
            return await self.inner(scope, receive, send)
        forwarded = b",".join(value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for")
        address = address_of((scope.get("client") or ("",))[0] or "", forwarded.decode("latin-1") or None)
        key, member = KEY_PREFIX + address, uuid.uuid4().hex
        counted = await _count(key, member, cap)
        if counted is False:
            log.warning("websocket_refused address=%s: %d open already", address, cap)
            return await _refuse(receive, send, cap)
        renewing = asyncio.create_task(_renew(key, member)) if counted else None
        try:
            return await self.inner(scope, receive, send)
        finally:
            if renewing is not None:
                renewing.cancel()
                await _forget(key, member)


async def _count(key: str, member: str, cap: int) -> bool | None:
    """True: counted; False: at the cap; None: Redis could not say (let in)."""
    try:
        return bool(await async_counters_client().eval(_OPEN, 1, key, member, cap, LEASE_MS))
    except Exception:
        log.warning("websocket_unchecked key=%s: Redis did not answer", key, exc_info=True)
        return None


async def _renew(key: str, member: str) -> None:
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        await _count(key, member, 0)


async def _forget(key: str, member: str) -> None:
    try:
        await async_counters_client().zrem(key, member)
    except Exception:
        log.warning("websocket_unforgotten key=%s: its lease runs out instead", key, exc_info=True)


async def _refuse(receive, send, cap: int) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    reason = f"at most {cap} WebSockets may be open at once from one address; close one first"
    await send({"type": "websocket.accept"})
    await send(
        {"type": "websocket.send", "text": json.dumps({"type": "error", "error": reason, "code": CLOSE_TOO_MANY})}
    )
    await send({"type": "websocket.close", "code": CLOSE_TOO_MANY})
