import asyncio
from collections import OrderedDict
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from bespin.lib import outages
from bespin.lib.ids import parse_uuid
from bespin.server.wssession import user_for
from jobs import events, selectors

# Close codes, in the 4000–4999 range that RFC 6455 leaves to applications.
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_UNAVAILABLE = 4503
SITE_SCOPE = "site"
# Jobs whose last shown state a stream remembers, to drop late older messages; the oldest
# are forgotten so that a socket open for days does not grow with every job it saw.
REMEMBERED_JOBS = 1000


def _stream_groups(session_key: str | None, query: dict) -> tuple[list[str], tuple[int, str] | None]:
    """The groups a stream joins, or why it is refused (close code and reason)."""
    user = user_for(session_key)
    if not user.is_authenticated:
        return [], (CLOSE_UNAUTHENTICATED, "sign in to stream your jobs, or watch one job with ?job_id=ID")
    if "team" in query:
        name = query["team"][0]
        if not name.isprintable() or len(name) > 150:
            return [], (CLOSE_BAD_REQUEST, "malformed team name")
        members = selectors.team_member_ids(user, name)
        if members is None:
            return [], (CLOSE_FORBIDDEN, f"you are not a member of team {name[:64]!r}")
        return [events.owner_group(member) for member in members], None
    if "scope" in query:
        if query["scope"][0] != SITE_SCOPE:
            return [], (CLOSE_BAD_REQUEST, "scope must be 'site'")
        if not user.is_staff:
            return [], (CLOSE_FORBIDDEN, "the site-wide stream is for staff")
        return [events.SITE_GROUP], None
    return [events.owner_group(user.pk)], None


class JobStatusConsumer(AsyncJsonWebsocketConsumer):
    """`/api/ws/jobs?job_id=ID`: the job's current status at once, then every change.

    Without `job_id`: the signed-in caller's own jobs; `?team=NAME`: the jobs of a team's
    members, for its members; `?scope=site`: every job, for staff. Anyone else is refused
    with a close code, never silently subscribed. Such a stream closes (4401) as soon as its
    session signs out, and is checked again every BESPIN_WS_RECHECK_SECONDS: a user who lost
    access meanwhile (the session ended, the team or staff status taken away) is closed
    with the code they would be refused now, and a team's stream follows its members.
    """

    async def connect(self):
        self.accepted = False
        self.checking: asyncio.Task | None = None
        self.subscribed: list[str] = []
        self.last_keys: OrderedDict[str, tuple] = OrderedDict()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        try:
            if "job_id" in query:
                return await self.connect_job((query.get("job_id") or [""])[0])
            return await self.connect_stream(query)
        except Exception as exc:
            part = outages.unavailable_part(exc)
            if part is None:
                raise
            # PostgreSQL or Redis restarting: the client reconnects, as after any drop.
            return await self.refuse(CLOSE_UNAVAILABLE, outages.unavailable_body(part)["error"])

    async def connect_stream(self, query: dict) -> None:
        # Who asks and what they may follow: one thread hop for the session, the user and
        # the team. A team's stream is its members' own streams, as of now.
        session_key = self.scope.get("session_key")
        groups, refusal = await database_sync_to_async(_stream_groups)(session_key, query)
        if refusal is not None:
            return await self.refuse(*refusal)
        for group in groups:
            await self.join(group)
        await self.join(events.session_group(session_key))
        await self.accept()
        self.checking = asyncio.create_task(self.keep_checking(session_key, query, set(groups)))

    async def keep_checking(self, session_key: str, query: dict, groups: set[str]) -> None:
        while True:
            await asyncio.sleep(settings.WS_RECHECK_SECONDS)
            try:
                now, refusal = await database_sync_to_async(_stream_groups)(session_key, query)
            except Exception as exc:
                if outages.unavailable_part(exc) is None:
                    raise
                continue  # PostgreSQL or Redis away: checked again next time
            if refusal is not None:
                return await self.refuse(*refusal)
            for group in set(now) - groups:
                await self.join(group)
            for group in groups - set(now):
                await self.channel_layer.group_discard(group, self.channel_name)
                self.subscribed.remove(group)
            groups = set(now)

    async def session_ended(self, event):
        await self.refuse(CLOSE_UNAUTHENTICATED, "signed out")

    async def connect_job(self, raw_id: str) -> None:
        if not raw_id:
            return await self.refuse(CLOSE_BAD_REQUEST, "job_id is required: /api/ws/jobs?job_id=ID")
        job_id = parse_uuid(raw_id)
        if job_id is None:
            return await self.refuse(CLOSE_BAD_REQUEST, f"malformed job_id {raw_id[:64]!r}")
        # Join before reading the row: a change made in between then arrives as a message,
        # and the order key below drops whatever is older than the state already sent.
        await self.join(events.job_group(job_id))
        # Accepted before the row is read, so that the client takes in the handshake's answer
        # while PostgreSQL answers.
        await self.accept()
        job = await selectors.job_state(job_id)
        if job is None:
            return await self.refuse(CLOSE_NOT_FOUND, f"no job with id {raw_id}")
        await self.send_status(job.status_message(), job.order_key())

    async def dispatch(self, message):
        # Channels' own dispatch hops to a thread to close stale database connections before
        # every message: the handshake, then each status sent to each socket. This consumer
        # holds none (its reads close their own), so a broadcast to thousands of sockets is
        # thousands of hops saved.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.subscribed.append(group)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def refuse(self, code: int, reason: str) -> None:
        # Accepted first where it was not yet: a browser shows a close code and its reason
        # only for a socket that opened.
        if not self.accepted:
            await self.accept()
        await self.send_json({"type": "error", "error": reason, "code": code})
        await self.close(code=code)

    async def disconnect(self, code):
        if self.checking is not None:
            self.checking.cancel()
        for group in self.subscribed:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def send_status(self, message: dict, key) -> None:
        key, job_id = tuple(key), message["job_id"]
        if key <= self.last_keys.get(job_id, ()):
            return
        self.last_keys[job_id] = key
        self.last_keys.move_to_end(job_id)
        if len(self.last_keys) > REMEMBERED_JOBS:
            self.last_keys.popitem(last=False)
        await self.send_json(message)

    async def job_status(self, event):
        await self.send_status(event["message"], event["key"])

    async def job_statuses(self, event):
        for each in event["events"]:
            await self.send_status(each["message"], each["key"])

    async def receive(self, text_data=None, bytes_data=None):
        # The stream is one-way: whatever a client sends, well-formed or not, is ignored.
        return None
