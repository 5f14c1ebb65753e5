"""Listening to a channel-layer group from a synchronous test while the test's own thread does
the work (RQ's worker wants the main thread, for its signal handlers).

The listener has a channel layer and an event loop of its own, in a daemon thread, so that
nothing it does touches the layer the rest of the process shares. It never cancels a read
to stop reading. Python 3.11's `asyncio.wait_for`, which redis-py wraps around every command
it sends, can swallow a cancellation that lands just as the command finishes
(python/cpython#86296); a layer read whose cancellation was swallowed can go on reading
forever, and whatever waits for it waits forever. The listener instead sends the group an
end marker once the test's action has returned: published through Redis after every message
the group was sent before it, it arrives after them, so reading up to it collects exactly
those, without a quiet period to wait out. (Sent to the listener's own channel it would not:
the layer puts a message for a channel of its own process straight in its queue, ahead of
what is still on its way through Redis.) Likewise it joins the group by hearing a message of
its own through it, so that nothing the action sends can come before the listener is really
in the group (with Redis pub/sub, a message sent before the subscription took effect is lost).
"""

import asyncio
import threading

from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

READY = "test.listener.ready"
END = "test.listener.end"
# Generous: each step is a few Redis round trips, and a step that overruns fails the test
# (with what it was waiting for) instead of hanging it.
STEP_TIMEOUT = 15.0


class GroupListener:
    """`with GroupListener(group) as listener: action()`, then `listener.messages()`: the
    `message` of every event the group was sent while the listener was in it, in order (each
    job's, for an event about many)."""

    def __init__(self, group: str):
        self.group = group
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"listener:{group}", daemon=True)
        self.channel = None
        self.received: list[dict] | None = None

    def __enter__(self) -> "GroupListener":
        self.thread.start()
        self.channel = self._run(self._join(), "joining the group")
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._run(self._leave(), "leaving the group")
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(STEP_TIMEOUT)
        assert not self.thread.is_alive(), f"the listener's event loop on {self.group} did not stop"
        self.loop.close()

    def messages(self) -> list[dict]:
        """Everything the group was sent since the listener joined it (read once, then kept)."""
        if self.received is None:
            self.received = self._run(self._read_to_end(), "the messages up to the end marker")
        return self.received

    def _run(self, coroutine, what: str):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(STEP_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"listener on {self.group}: no answer within {STEP_TIMEOUT} s {what}") from None

    async def _join(self) -> str:
        channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, channel)
        await self.layer.group_send(self.group, {"type": READY})
        while (await self.layer.receive(channel))["type"] != READY:
            pass
        return channel

    async def _read_to_end(self) -> list[dict]:
        await self.layer.group_send(self.group, {"type": END})
        received = []
        while (event := await self.layer.receive(self.channel))["type"] != END:
            # A change of many jobs together comes as one event carrying each job's message.
            received.extend([each["message"] for each in event["events"]] if "events" in event else [event["message"]])
        return received

    async def _leave(self) -> None:
        await self.layer.group_discard(self.group, self.channel)
        await self.layer.flush()  # closes its connections too


def messages_during(group: str, action) -> list[dict]:
    """Run `action()` in this thread and return what `group` was sent meanwhile."""
    with GroupListener(group) as listener:
        action()
        return listener.messages()
