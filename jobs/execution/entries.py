"""How a Bespin worker runs Bespin's own queue entries (jobs.execution.queue.TASK): without
RQ's per-job bookkeeping. RQ's execution record, started registry, job heartbeats, success
pipeline and worker counters cost many Redis round trips a job and most of a worker's CPU
(docs/BENCHMARKS.md), and keep nothing Bespin reads: PostgreSQL holds the job's state, and
Bespin's heartbeat (jobs.execution.heartbeats) names the entry being run. An entry runs under
RQ's timeout (SIGALRM) and is deleted once run, as RQ deletes it with result_ttl=0.

Around every job RQ also renews its worker key, writes the worker's state and asks whether
workers are suspended (`rq suspend`), a round trip each. The heartbeat thread renews the key
and the state every second instead (jobs.execution.worker), and a suspension is looked for
twice a second.
"""

import logging
import time
import traceback

from rq.timeouts import JobTimeoutException
from rq.worker import WorkerStatus

from jobs.execution import entrypoint

log = logging.getLogger("bespin.worker")

SUSPENSION_CHECK_INTERVAL = 0.5


class EntryRunner:
    """Mixed into the worker class, before RQ's."""

    # True while the heartbeat thread runs (set by the worker).
    _bespin_beating = False
    _bespin_suspension_checked = float("-inf")

    def _run_entry(self, job, queue) -> None:
        """Run one of Bespin's entries under its timeout (RQ's SIGALRM), then delete it."""
        # Busy in this process's eyes, so that SIGTERM waits for the job (a warm shutdown);
        # the heartbeat tells Redis.
        self._state = WorkerStatus.BUSY
        try:
            if len(self.queues) == 1:
                # A worker of one queue took the entry with BLMOVE, into the queue's
                # intermediate list: it leaves it before running, as RQ's own preparation does.
                queue.intermediate_queue.remove(job.id)
            with self.death_penalty_class(job.timeout or queue.DEFAULT_TIMEOUT, JobTimeoutException, job_id=job.id):
                entrypoint.run_job(*job.args, **job.kwargs)
        except Exception:
            # Not the handler's own error (the runner stores those): PostgreSQL or Redis failed
            # around it. RQ's failed registry keeps it for `rq info`; the job's row stays as it
            # was, for the recovery sweep.
            log.exception("entry %s failed outside its handler worker=%s", job.id, self.name)
            self.handle_job_failure(job, queue, exc_string=traceback.format_exc())
            return
        finally:
            self._state = WorkerStatus.IDLE
        self.connection.delete(job.key)

    def heartbeat(self, timeout=None, pipeline=None):
        # RQ renews its worker key before and after every job; the heartbeat thread renews it
        # every second instead (jobs.execution.worker). Calls inside RQ's own pipelines go through.
        if pipeline is None and self._bespin_beating:
            return
        super().heartbeat(timeout, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        now = time.monotonic()
        if now - self._bespin_suspension_checked >= SUSPENSION_CHECK_INTERVAL:
            super().check_for_suspension(burst)
            self._bespin_suspension_checked = time.monotonic()

    def set_state(self, state, pipeline=None):
        # RQ writes "idle" before every dequeue; only a change is worth a round trip.
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)
