"""Publishing job changes to the channel layer.

Group names come from the helpers here and nowhere else. A status change is published from
the thread that made it, as the PUBLISHes the layer's group_send would make
(bespin.server.channel_layer), sent in one pipelined round trip on a plain Redis client. Only the
health check goes through the layer itself, on one long-lived loop per process in a daemon
thread.
"""

import asyncio
import hashlib
import logging
import os
import threading

from channels.layers import get_channel_layer
from django.conf import settings

from bespin.lib.redis import publish_client
from jobs.models import Job

log = logging.getLogger(__name__)

SITE_GROUP = "jobs.site"
# The layer's event type; Channels dispatches it to a consumer's `job_status` method.
STATUS_EVENT = "job.status"
# Several jobs' changes in one message (a batch): a consumer's `job_statuses`.
STATUSES_EVENT = "job.statuses"
# The longest the health check's group send, or anything else run on the loop, may take.
PUBLISH_TIMEOUT = 5.0


def job_group(job_id) -> str:
    return f"jobs.job.{job_id}"


def owner_group(user_id: int) -> str:
    return f"jobs.user.{user_id}"


def session_group(session_key: str) -> str:
    """The streams opened with one session: they close when it signs out."""
    return f"jobs.session.{hashlib.sha256(session_key.encode()).hexdigest()[:40]}"


def signed_out(sender, request, user, **kwargs) -> None:
    """For Django's user_logged_out: close the streams the session opened, on every server,
    at once (its WebSocket consumers' `session_ended`)."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        _publish({session_group(session_key): {"type": "session.ended"}}, f"session_ended user={user and user.pk}")


def groups_for(job: Job, *, new: bool = False) -> list[str]:
    # Nobody can watch a job's own group before its id is handed out: a new job skips it.
    groups = [SITE_GROUP] if new else [job_group(job.id), SITE_GROUP]
    if job.owner_id is not None:
        # Teams follow their members' groups (jobs.consumers): no query for them here.
        groups.append(owner_group(job.owner_id))
    return groups


def status_event(job: Job) -> dict:
    return {"type": STATUS_EVENT, "key": list(job.order_key()), "message": job.status_message()}


class _LoopThread:
    """One event loop in a daemon thread, made again after a fork."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(target=self._loop.run_forever, name="bespin-publish", daemon=True).start()
            return self._loop


_loop_thread = _LoopThread()


def run(coroutine, timeout: float = PUBLISH_TIMEOUT):
    """Run `coroutine` on this process's publishing loop and wait for its result."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _loop_thread.loop())
    try:
        return future.result(timeout=timeout)
    except BaseException:
        future.cancel()
        raise


def publish(job: Job, *, new: bool = False, queue_pipeline=None) -> bool:
    """Send the job's current state to everyone watching it (`new`: just created, which
    nobody can watch by its id yet). Never raises: the row in PostgreSQL is the truth, and a
    watcher that missed a message gets the state on connect.

    `queue_pipeline`, a pipeline of the queue's Redis client (bespin.lib.redis.queue_client),
    carries the PUBLISHes for that Redis, to be sent with the caller's own commands; True
    when it was given some (lost with it if it fails)."""
    event = status_event(job)
    groups = groups_for(job, new=new)
    return _publish({group: event for group in groups}, f"job={job.id} status={job.status}", queue_pipeline)


def publish_many(jobs: list[Job], *, new: bool = False, queue_pipeline=None) -> bool:
    """publish() for many jobs at once (a batch created, promoted, started by schedules,
    cancelled or retried together): one message per group, carrying all of its jobs'."""
    events_by_group: dict[str, dict] = {}
    for job in jobs:
        event = status_event(job)
        for group in groups_for(job, new=new):
            events_by_group.setdefault(group, {"type": STATUSES_EVENT, "events": []})["events"].append(event)
    return _publish(events_by_group, f"jobs={len(jobs)}", queue_pipeline)


def _publish(events_by_group: dict[str, dict], what: str, queue_pipeline=None) -> bool:
    carried = False
    try:
        for address, publications in get_channel_layer().publications(events_by_group).items():
            if queue_pipeline is not None and address == settings.REDIS_URL:
                for channel, message in publications:
                    queue_pipeline.publish(channel, message)
                carried = True
                continue
            with publish_client(address).pipeline(transaction=False) as pipe:
                for channel, message in publications:
                    pipe.publish(channel, message)
                pipe.execute()
    except Exception:
        log.warning("publish failed %s", what, exc_info=True)
    return carried


HEALTH_GROUP = "bespin.health"


async def layer_check() -> None:
    """A group send through the channel layer to a group nobody joins. (Receiving is not an
    option: the layer lets one event loop per process receive, the server's own.)"""
    await get_channel_layer().group_send(HEALTH_GROUP, {"type": "health.ping"})
