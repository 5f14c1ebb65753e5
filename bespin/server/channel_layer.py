"""channels_redis's pub/sub layer, with two changes.

Its receiver is woken by a subscription instead of polling for one. While a server process
has nothing subscribed, channels_redis's receiver sleeps 0.1 s between checks; a WebSocket
that then subscribes and is sent its job's next change at once waits for the rest of that
sleep: up to 100 ms on a quiet server, where a job's whole run takes a few. Here the
receiver waits on an event that every subscription sets.

A consumer's own channel lives in its process only. channels_redis subscribes to each one
in Redis, and unsubscribes when the socket closes: two commands and two confirmations to
parse for every WebSocket, a good part of opening one. Bespin addresses sockets only through
groups (a job's, an owner's, the site's), which stay Redis subscriptions shared by every
socket of the process; a message sent to a consumer's own channel from the same process is
put straight in its queue. One sent to it from another process would be lost: nothing of
Bespin does that.

A group send is one PUBLISH of the serialized message on the group's Redis channel, which
needs no event loop: `publications()` gives those PUBLISHes, for code that is not async (the
request threads and the workers, jobs.events) to send in one pipelined round trip, instead
of handing each send to a loop in another thread and waiting for it.
"""

import asyncio
import logging
import uuid

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
    _consistent_hash,
    _wrap_close,
    decode_hosts,
)
from django.conf import settings

log = logging.getLogger("bespin.http")


class _Shard(RedisSingleShardConnection):
    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._subscribed_once = asyncio.Event()

    async def subscribe(self, channel):
        await super().subscribe(channel)
        self._subscribed_once.set()

    async def _do_receiving(self):
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    self._receive_message(message)
                    continue
                # Cleared before the check, so that a subscription made after the check still wakes it.
                self._subscribed_once.clear()
                if not (self._pubsub and self._pubsub.subscribed):
                    await self._subscribed_once.wait()
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except BaseException:
                log.exception("channel layer: unexpected error while receiving")
                await asyncio.sleep(1)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]

    async def new_channel(self, prefix="specific."):
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        return channel

    async def send(self, channel, message):
        local = self.channels.get(channel)
        if local is None:
            return await super().send(channel, message)
        local.put_nowait(self.channel_layer.serialize(message))


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """settings.CHANNEL_LAYERS' backend: RedisPubSubChannelLayer with the receiver above."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer

    def publications(self, messages: dict[str, dict]) -> dict[str, list[tuple[str, bytes]]]:
        """What `group_send(group, message)` publishes for each group and message, as
        (Redis channel, bytes) pairs by the Redis URL of the host that carries them."""
        hosts = decode_hosts(self._kwargs.get("hosts"))
        prefix = self._kwargs.get("prefix", "asgi")
        by_address: dict[str, list[tuple[str, bytes]]] = {}
        for group, message in messages.items():
            channel = f"{prefix}__group__{group}"  # RedisPubSubLoopLayer._get_group_channel_name
            host = hosts[_consistent_hash(channel, len(hosts))]
            # A URL in every host, or the one host of Redis behind Sentinel, which REDIS_URL
            # names (bespin.lib.redis): Bespin's settings give one, and a system check holds it.
            address = host.get("address") or settings.REDIS_URL
            by_address.setdefault(address, []).append((channel, self.serialize(message)))
        return by_address
