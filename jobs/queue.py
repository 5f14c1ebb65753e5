"""The RQ queue that carries job ids from the web side to the workers.

PostgreSQL holds the jobs; the queue only says which to run next. Losing an entry is
repaired by the recovery sweep, so every function here logs a Redis failure instead of
raising it into the caller's request.
"""

import logging
from datetime import timedelta
from functools import cache

from django.conf import settings
from rq import Queue
from rq.job import Job as RQJob

from bespin.redis import queue_client
from jobs import kinds
from jobs.models import Job

log = logging.getLogger("bespin.jobs")

QUEUE_NAME = "default"
TASK = "jobs.tasks.run_job"
# Failed RQ jobs are kept this long for `rq info`; Bespin's own record is the row.
FAILURE_TTL = 24 * 3600


@cache
def rq_queue() -> Queue:
    """The queue, made once per process on the queue connection (django_rq.get_queue() builds
    a new Redis client and TCP connection on every call: several ms a job)."""
    timeout = settings.RQ_QUEUES[QUEUE_NAME]["DEFAULT_TIMEOUT"]
    return Queue(QUEUE_NAME, connection=queue_client(), default_timeout=timeout)


def rq_job_id(job: Job) -> str:
    # One RQ job per attempt, so RQ's bookkeeping of an earlier attempt (its started or failed
    # registry) never touches the next one.
    return f"{job.id}_{job.attempt}"


def _options(job: Job) -> dict:
    """What every queue entry of a job carries but its timeout (named apart by RQ's calls)."""
    return {"job_id": rq_job_id(job), "result_ttl": 0, "failure_ttl": FAILURE_TTL}


def _timeout(job: Job) -> int:
    job_kind = kinds.get_kind(job.type)
    return job_kind.timeout if job_kind else 600


def enqueue_job(job: Job, *, delay: float = 0) -> None:
    """Put the job on the queue (after `delay` seconds, through RQ's scheduler). A failure
    leaves the job `pending` in PostgreSQL, where the recovery sweep enqueues it again."""
    options = {**_options(job), "job_timeout": _timeout(job)}
    try:
        if delay > 0:
            rq_queue().enqueue_in(timedelta(seconds=delay), TASK, str(job.id), job.attempt, **options)
        else:
            rq_queue().enqueue(TASK, str(job.id), job.attempt, **options)
    except Exception:
        log.exception("enqueue failed job=%s; the recovery sweep will enqueue it again", job.id)


def enqueue_jobs(jobs: list[Job]) -> None:
    """Put new jobs on the queue in one pipelined round trip (RQ's enqueue_many); on a
    failure they stay pending, for the recovery sweep, as with enqueue_job."""
    rq = rq_queue()
    try:
        with rq.connection.pipeline() as pipe:
            entries = [
                rq.prepare_data(TASK, (str(job.id), job.attempt), timeout=_timeout(job), **_options(job))
                for job in jobs
            ]
            rq.enqueue_many(entries, pipe)
            pipe.execute()
    except Exception:
        log.exception("enqueue failed for %d jobs; the recovery sweep will enqueue them again", len(jobs))


def remove_from_queue(job: Job) -> None:
    """Take the job's RQ entry off the queue, if it is still there."""
    try:
        rq_job = RQJob.fetch(rq_job_id(job), connection=queue_client())
        rq_job.cancel()
        rq_job.delete()
    except Exception:
        # Gone already, or Redis is away: a worker skips a job that is not pending anyway.
        pass


def queue_depth() -> int:
    """Entries waiting in the queue (one LLEN)."""
    return rq_queue().count
