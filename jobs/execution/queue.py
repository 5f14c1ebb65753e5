"""The RQ queues that carry job ids from the web side to the workers, one per priority
(high, default, low): a job's entry goes on its priority's queue, and workers take high,
then default, then low (jobs.execution.worker).

PostgreSQL holds the jobs; the queue only says which to run next. Bespin writes an entry
itself, field for field as RQ's `Queue.enqueue` does, in one round trip (RQ's own enqueue
takes two, and builds a Job object first). Nothing waits in Redis for its time: a job to run
later (asked so, or a retry's backoff) waits in PostgreSQL for the workers' clock.
Losing an entry is repaired by the recovery sweep, so every function here logs a Redis
failure instead of raising it into the caller's request.
"""

import logging
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from django.conf import settings
from rq import Queue
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.serializers import DefaultSerializer
from rq.utils import get_call_string, utcformat

from bespin.lib.redis import queue_client
from jobs import registry
from jobs.models import Job, Priority

log = logging.getLogger("bespin.jobs")

QUEUE_NAME = "default"
# The queues in the order workers take them: a priority's name is its queue's.
QUEUE_NAMES = (Priority.HIGH.value, Priority.DEFAULT.value, Priority.LOW.value)
TASK = "jobs.execution.entrypoint.run_job"
# The same function under the name entries written by an earlier Bespin carry: a worker of
# this one runs those too, so that an upgrade loses none of what was queued.
TASKS = frozenset({TASK, "jobs.tasks.run_job"})
# Failed RQ jobs are kept this long for `rq info`; Bespin's own record is the row.
FAILURE_TTL = 24 * 3600


@cache
def rq_queue(name: str = QUEUE_NAME) -> Queue:
    """A queue (`name`: a priority), made once per process on the queue connection
    (django_rq.get_queue() builds a new Redis client and TCP connection on every call:
    several ms a job)."""
    timeout = settings.RQ_QUEUES[name]["DEFAULT_TIMEOUT"]
    return Queue(name, connection=queue_client(), default_timeout=timeout)


def queue_of(job: Job) -> Queue:
    """The queue of the job's priority."""
    return rq_queue(job.priority if job.priority in QUEUE_NAMES else QUEUE_NAME)


def rq_job_id(job: Job) -> str:
    # One RQ job per attempt, so RQ's bookkeeping of an earlier attempt (its started or failed
    # registry) never touches the next one.
    return f"{job.id}_{job.attempt}"


def _options(job: Job) -> dict:
    """What every queue entry of a job carries but its timeout (named apart by RQ's calls)."""
    return {"job_id": rq_job_id(job), "result_ttl": 0, "failure_ttl": FAILURE_TTL}


def _args(job: Job) -> tuple:
    # The kind travels with the entry, so that a worker can hold back a job whose kind has no
    # free slot (jobs.execution.concurrency) before claiming it in PostgreSQL.
    return (str(job.id), job.attempt, job.type)


def _timeout(job: Job) -> int:
    job_kind = registry.get_kind(job.type)
    return job_kind.timeout if job_kind else 600


def entry(job: Job, queue: Queue, stamp: str) -> dict:
    """The hash RQ's `Queue.enqueue` would write for the job's entry (`Job.to_dict()` of a
    queued job with Bespin's options; a test holds the two equal), made without building an
    RQ Job: RQ's enqueue is two round trips and most of a created job's Redis work."""
    args = _args(job)
    return {
        "created_at": stamp,
        "data": zlib.compress(DefaultSerializer.dumps((TASK, None, args, {}))),
        "success_callback_name": "",
        "failure_callback_name": "",
        "stopped_callback_name": "",
        "started_at": "",
        "ended_at": "",
        "last_heartbeat": "",
        "worker_name": "",
        "group_id": "",
        "origin": queue.name,
        "description": get_call_string(TASK, args, {}, max_length=75),
        "enqueued_at": stamp,
        "timeout": _timeout(job),
        "result_ttl": 0,
        "failure_ttl": FAILURE_TTL,
        "status": JobStatus.QUEUED.value,
    }


def _push(pipe, jobs: list[Job]) -> None:
    """Each job's entry and its id on its queue, as RQ's enqueue writes them, on `pipe`."""
    stamp = utcformat(datetime.now(UTC))
    queues = set()
    for job in jobs:
        queue = queue_of(job)
        if queue.key not in queues:
            queues.add(queue.key)
            pipe.sadd(queue.redis_queues_keys, queue.key)
        pipe.hset(RQJob.key_for(rq_job_id(job)), mapping=entry(job, queue, stamp))
        pipe.rpush(queue.key, rq_job_id(job))


def enqueue_job(job: Job, *, also: Callable | None = None) -> bool:
    """Put the job on the queue: one round trip, which `also(pipeline)` may add the caller's
    own commands to. False on a failure, which leaves the job `pending` in PostgreSQL, where
    the recovery sweep enqueues it again; the caller's commands are lost with it."""
    try:
        with queue_client().pipeline() as pipe:
            _push(pipe, [job])
            if also is not None:
                also(pipe)
            pipe.execute()
    except Exception:
        log.exception("enqueue failed job=%s; the recovery sweep will enqueue it again", job.id)
        return False
    return True


def enqueue_jobs(jobs: list[Job], *, also: Callable | None = None) -> bool:
    """Put jobs on their queues in one round trip, with `also(pipeline)`'s commands; on a
    failure (False) they stay pending, for the recovery sweep, as with enqueue_job."""
    if not jobs:
        return True
    try:
        with queue_client().pipeline() as pipe:
            _push(pipe, jobs)
            if also is not None:
                also(pipe)
            pipe.execute()
    except Exception:
        log.exception("enqueue failed for %d jobs; the recovery sweep will enqueue them again", len(jobs))
        return False
    return True


def remove_from_queue(job: Job) -> None:
    """Take the job's RQ entry off the queue, if it is still there."""
    try:
        rq_job = RQJob.fetch(rq_job_id(job), connection=queue_client())
        rq_job.cancel()
        rq_job.delete()
    except Exception:
        # Gone already, or Redis is away: a worker skips a job that is not pending anyway.
        pass


def remove_entries(jobs: list[Job]) -> None:
    """Take many jobs' RQ entries off their queues in one pipeline (bulk cancel). Taken in
    queue order, each LREM finds its entry near the head. An entry missed is harmless: its
    job is no longer pending, which a worker checks before running anything."""
    try:
        with queue_client().pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.lrem(queue_of(job).key, 1, rq_job_id(job))
                pipe.delete(RQJob.key_for(rq_job_id(job)))
            pipe.execute()
    except Exception:
        log.warning("removing %d cancelled jobs from the queue failed; workers will skip them", len(jobs))


def queue_depth() -> int:
    """Entries waiting in the queues (one LLEN each, in one round trip)."""
    return sum(queue_depths().values())


def queue_depths() -> dict[str, int]:
    """Entries waiting in each priority's queue, high first."""
    pipe = queue_client().pipeline(transaction=False)
    for name in QUEUE_NAMES:
        pipe.llen(rq_queue(name).key)
    return dict(zip(QUEUE_NAMES, pipe.execute(), strict=True))
