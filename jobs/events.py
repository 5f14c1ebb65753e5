"""Publishing job changes to the channel layer.

Group names come from the helpers here and nowhere else. A publish from a worker (a plain
sync process) used to cost a new event loop and Redis connection per call through
`async_to_sync`; instead one long-lived loop per process runs in a daemon thread and every
publish is handed to it, keeping its connections warm.
"""

import asyncio
import logging
import os
import threading

from channels.layers import get_channel_layer

from jobs.models import Job

log = logging.getLogger(__name__)

SITE_GROUP = "jobs.site"
# The layer's event type; Channels dispatches it to a consumer's `job_status` method.
STATUS_EVENT = "job.status"
# Several jobs' changes in one message (a batch): a consumer's `job_statuses`.
STATUSES_EVENT = "job.statuses"
PUBLISH_TIMEOUT = 5.0


def job_group(job_id) -> str:
    return f"jobs.job.{job_id}"


def owner_group(user_id: int) -> str:
    return f"jobs.user.{user_id}"


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


async def _send(groups: list[str], event: dict) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, event) for group in groups))


async def _send_each(events_by_group: dict[str, dict]) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, event) for group, event in events_by_group.items()))


def run(coroutine, timeout: float = PUBLISH_TIMEOUT):
    """Run `coroutine` on this process's publishing loop and wait for its result."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _loop_thread.loop())
    try:
        return future.result(timeout=timeout)
    except BaseException:
        future.cancel()
        raise


def start_publish(job: Job, *, new: bool = False):
    """Begin sending the job's current state to everyone watching it, and return a function
    that waits until it is sent, so the caller can do other work meanwhile. Never raises: the
    row in PostgreSQL is the truth, and a watcher that missed a message gets the state on connect."""
    return _start(_send(groups_for(job, new=new), status_event(job)), f"job={job.id} status={job.status}")


def start_publish_many(jobs: list[Job], *, new: bool = False):
    """start_publish for many jobs at once (a batch created, promoted, started by schedules,
    cancelled or retried together): one message per group, carrying all of its jobs'."""
    events_by_group: dict[str, dict] = {}
    for job in jobs:
        event = status_event(job)
        for group in groups_for(job, new=new):
            events_by_group.setdefault(group, {"type": STATUSES_EVENT, "events": []})["events"].append(event)
    return _start(_send_each(events_by_group), f"jobs={len(jobs)}")


def _start(coroutine, what: str):
    try:
        future = asyncio.run_coroutine_threadsafe(coroutine, _loop_thread.loop())
    except Exception:
        log.warning("publish failed %s", what, exc_info=True)
        return lambda: None

    def wait() -> None:
        try:
            future.result(timeout=PUBLISH_TIMEOUT)
        except Exception:
            future.cancel()
            log.warning("publish failed %s", what, exc_info=True)

    return wait


def publish(job: Job, *, new: bool = False) -> None:
    """Send the job's current state to everyone watching it (see start_publish)."""
    start_publish(job, new=new)()


HEALTH_GROUP = "bespin.health"


async def layer_check() -> None:
    """A group send through the channel layer to a group nobody joins. (Receiving is not an
    option: the layer lets one event loop per process receive, the server's own.)"""
    await get_channel_layer().group_send(HEALTH_GROUP, {"type": "health.ping"})
