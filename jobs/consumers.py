from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from jobs import events, selectors

# Close codes, in the 4000–4999 range that RFC 6455 leaves to applications.
CLOSE_BAD_REQUEST = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class JobStatusConsumer(AsyncJsonWebsocketConsumer):
    """`/api/ws/jobs?job_id=ID`: the job's current status at once, then every change."""

    async def connect(self):
        self.subscribed: list[str] = []
        self.last_keys: dict[str, tuple] = {}
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw_id = (query.get("job_id") or [""])[0]
        if not raw_id:
            return await self.refuse(CLOSE_BAD_REQUEST, "job_id is required: /api/ws/jobs?job_id=ID")
        job_id = selectors.parse_job_id(raw_id)
        if job_id is None:
            return await self.refuse(CLOSE_BAD_REQUEST, f"malformed job_id {raw_id[:64]!r}")
        # Join before reading the row: a change made in between then arrives as a message,
        # and the order key below drops whatever is older than the state already sent.
        await self.join(events.job_group(job_id))
        job = await database_sync_to_async(selectors.get_job)(job_id)
        if job is None:
            return await self.refuse(CLOSE_NOT_FOUND, f"no job with id {raw_id}")
        await self.accept()
        await self.send_status(job.status_message(), job.order_key())

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.subscribed.append(group)

    async def refuse(self, code: int, reason: str) -> None:
        await self.accept()
        await self.send_json({"type": "error", "error": reason, "code": code})
        await self.close(code=code)

    async def disconnect(self, code):
        for group in self.subscribed:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def send_status(self, message: dict, key) -> None:
        key = tuple(key)
        if key <= self.last_keys.get(message["job_id"], ()):
            return
        self.last_keys[message["job_id"]] = key
        await self.send_json(message)

    async def job_status(self, event):
        await self.send_status(event["message"], event["key"])

    async def receive(self, text_data=None, bytes_data=None):
        # The stream is one-way: whatever a client sends, well-formed or not, is ignored.
        return None
