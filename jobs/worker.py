"""The worker class `manage.py rqworker` runs (settings.RQ["WORKER_CLASS"]).

A SimpleWorker runs each job in the worker process instead of forking one child per job,
which costs several milliseconds and loses every warm connection (PostgreSQL, Redis, the
channel layer) each time. Job timeouts still work: RQ arms SIGALRM in the worker itself.

Beside RQ's loop, two daemon threads keep Bespin's promises when processes die:
- the heartbeat (jobs.heartbeats), rewritten every second, naming the RQ job the worker
  runs; it runs out a few seconds after the process is killed, so the jobs it held are
  known lost;
- maintenance, run every SWEEP_INTERVAL by one worker at a time: the recovery sweep
  (jobs.recovery), which re-queues or fails lost jobs and enqueues pending jobs Redis does
  not hold, folding the job counts' deltas into their totals (jobs.tallies) and, at most
  once a minute, retention (jobs.retention): expired Idempotency-Keys and, with
  BESPIN_JOB_RETENTION, old finished jobs.
And the completion callbacks' sender (callbacks.sender): its threads POST ended jobs to their
callback URLs, so that a slow receiver holds a sending thread, never this worker's jobs.
"""

import logging
import threading
import time

import redis
from django.db import close_old_connections, connection
from rq.worker import SimpleWorker

from callbacks.sender import Sender
from jobs import heartbeats, recovery, retention, tallies, tasks

log = logging.getLogger("bespin.worker")

SWEEP_INTERVAL = 2.0
# After RQ's loop ended unasked: the first wait before starting it again, and the longest.
RESTART_DELAY = 0.5
RESTART_DELAY_MAX = 5.0


class BespinWorker(SimpleWorker):
    def work(self, burst: bool = False, *args, **kwargs):
        """RQ's work loop, started again when it ends for any reason but a request to stop.

        RQ quits its loop on an error it does not expect, such as Redis going away while a job
        runs (its heartbeat or its result cannot be written). A worker that quits there stays
        gone until someone restarts it; instead it waits for Redis and goes on. The job it was
        running is then lost, and the recovery sweep runs it again or fails it."""
        # RQ's scheduler runs the delayed retries of kinds that declare them.
        kwargs["with_scheduler"] = True
        self._bespin_stop_asked = False
        restarts = 0
        while True:
            try:
                worked = self._work(burst, *args, **kwargs)
            except (redis.ConnectionError, redis.TimeoutError):
                worked = False  # even tearing down failed: Redis is gone
            if burst or self._bespin_stop_asked or kwargs.get("max_jobs") or kwargs.get("max_idle_time"):
                return worked
            restarts += 1
            log.warning("worker=%s: the work loop ended unasked; starting it again once Redis answers", self.name)
            self._wait_for_redis(restarts)

    def request_stop(self, signum, frame):
        # SIGTERM, SIGINT or RQ's shutdown command: RQ then leaves its loop on purpose.
        self._bespin_stop_asked = True
        super().request_stop(signum, frame)

    def _wait_for_redis(self, restarts: int) -> None:
        delay = min(RESTART_DELAY_MAX, RESTART_DELAY * 2 ** min(restarts - 1, 5))
        while True:
            time.sleep(delay)
            try:
                self.connection.ping()
                # A registration that never recorded its death would refuse the new birth.
                self.connection.delete(self.key)
                return
            except (redis.ConnectionError, redis.TimeoutError):
                delay = min(RESTART_DELAY_MAX, delay * 2)

    def _work(self, burst, *args, **kwargs):
        tasks.worker_name = self.name
        self._bespin_stop = threading.Event()
        self._bespin_threads: list[threading.Thread] = []
        self._bespin_job = heartbeats.IDLE
        try:
            return super().work(burst, *args, **kwargs)
        finally:
            self._bespin_stop.set()
            for thread in self._bespin_threads:
                thread.join(timeout=5)
            try:
                heartbeats.forget(self.name, connection=self.connection)
            except Exception:
                pass

    def _start_scheduler(self, burst: bool = False, *args, **kwargs):
        # RQ forks its scheduler here; threads are started after the fork, never before, so
        # the child cannot inherit a lock one of them held.
        super()._start_scheduler(burst, *args, **kwargs)
        for target, name in ((self._beat, "bespin-heartbeat"), (self._sweep, "bespin-recovery")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._bespin_threads.append(thread)
        if not burst:  # a burst worker leaves once the queue is empty: no time to send in
            self._bespin_threads += Sender(stop=self._bespin_stop).start()

    def execute_job(self, job, queue):
        self._bespin_job = job.id
        try:
            return super().execute_job(job, queue)
        finally:
            self._bespin_job = heartbeats.IDLE

    def _beat(self) -> None:
        while not self._bespin_stop.is_set():
            try:
                heartbeats.beat(self.name, self._bespin_job, connection=self.connection)
            except Exception:
                log.warning("heartbeat failed worker=%s", self.name, exc_info=True)
            self._bespin_stop.wait(heartbeats.INTERVAL)

    def _sweep(self) -> None:
        while not self._bespin_stop.wait(SWEEP_INTERVAL):
            try:
                # One sweep per interval across all workers; a second one would be safe, only wasted.
                lock = self.connection.set(recovery.SWEEP_LOCK_KEY, self.name, nx=True, px=int(SWEEP_INTERVAL * 900))
                if lock:
                    close_old_connections()
                    recovery.recover_jobs()
                    tallies.roll_up()
                    # Once a minute at most (its own lock), so that the sweep stays cheap.
                    retention.apply_retention(connection=self.connection, worker_name=self.name)
            except Exception:
                log.warning("maintenance failed worker=%s", self.name, exc_info=True)
        connection.close()
