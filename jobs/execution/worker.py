"""The worker class `manage.py rqworker` runs (settings.RQ["WORKER_CLASS"]).

A SimpleWorker runs each job in the worker process instead of forking one child per job,
which costs several milliseconds and loses every warm connection (PostgreSQL, Redis, the
channel layer) each time. Job timeouts still work: RQ arms SIGALRM in the worker itself.

Started on the queue `default` alone (`manage.py rqworker default`, as deployments always
have), it serves the three priorities' queues, high, then default, then low: RQ takes the
first queue that has an entry. Named queues (`rqworker high`) are served as named.

A job whose kind has a concurrency limit (jobs.execution.concurrency) takes a slot before it starts,
or is parked until one frees; every other job starts without a look at Redis.

Bespin's own entries skip RQ's per-job bookkeeping (jobs.execution.entries); any other entry runs
through RQ as usual.

Beside RQ's loop, daemon threads keep Bespin's promises when processes die:
- the heartbeat (jobs.execution.heartbeats), rewritten every second, naming the RQ job the worker
  runs; it runs out a few seconds after the process is killed, so the jobs it held are
  known lost;
- maintenance, run every SWEEP_INTERVAL by one worker at a time: the recovery sweep
  (jobs.execution.recovery), which re-queues or fails lost jobs and enqueues pending jobs Redis does
  not hold, folding the job counts' deltas into their totals (jobs.execution.tallies) and, at most
  once a minute, retention (jobs.execution.retention): expired Idempotency-Keys and, with
  BESPIN_JOB_RETENTION, old finished jobs;
- the clock (jobs.execution.clock), every CLOCK_INTERVAL by one worker at a time: scheduled jobs whose
  time has come, schedules' due ticks, and parked jobs for freed concurrency slots.
And what other apps run beside the loop (jobs.extensions.worker_services): the completion
callbacks' senders, whose threads POST ended jobs to their callback URLs, so that a slow
receiver holds a sending thread, never this worker's jobs.
"""

import logging
import signal
import threading
import time

import redis
from django.db import close_old_connections, connection
from rq.worker import SimpleWorker

from jobs import extensions, registry
from jobs.execution import clock, concurrency, entrypoint, heartbeats, recovery, retention, tallies
from jobs.execution.entries import EntryRunner
from jobs.execution.queue import QUEUE_NAME, QUEUE_NAMES, TASKS

log = logging.getLogger("bespin.worker")

SWEEP_INTERVAL = 2.0
# After RQ's loop ended unasked: the first wait before starting it again, and the longest.
RESTART_DELAY = 0.5
RESTART_DELAY_MAX = 5.0


class BespinWorker(EntryRunner, SimpleWorker):
    def __init__(self, queues, *args, **kwargs):
        super().__init__(queues, *args, **kwargs)
        if [queue.name for queue in self.queues] == [QUEUE_NAME]:
            default = self.queues[0]
            self.queues = [
                default
                if name == QUEUE_NAME
                else self.queue_class(
                    name,
                    connection=self.connection,
                    job_class=self.job_class,
                    serializer=self.serializer,
                    death_penalty_class=self.death_penalty_class,
                    default_timeout=default._default_timeout,
                )  # fmt: skip
                for name in QUEUE_NAMES
            ]
            self._ordered_queues = self.queues[:]
        self._bespin_lease: concurrency.Lease | None = None
        # Held while the heartbeat renews the lease and while it is given back, so that a
        # renewal can never bring back a lease just given back.
        self._bespin_lease_lock = threading.Lock()

    def work(self, burst: bool = False, *args, **kwargs):
        """RQ's work loop, started again when it ends for any reason but a request to stop.

        RQ quits its loop on an error it does not expect, such as Redis going away while a job
        runs (its heartbeat or its result cannot be written). A worker that quits there stays
        gone until someone restarts it; instead it waits for Redis and goes on. The job it was
        running is then lost, and the recovery sweep runs it again or fails it."""
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
        entrypoint.worker_name = self.name
        self._bespin_burst = burst
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

    def bootstrap(self, *args, **kwargs):
        # RQ registers the worker here, at the start of its work loop; the threads start once
        # it is registered.
        super().bootstrap(*args, **kwargs)
        # RQ installs its signal handlers only once this returns; until then SIGTERM ends the
        # process at once, which after the first heartbeat below would leave it behind. A stop
        # asked meanwhile is kept for RQ's loop, which leaves at its first turn, as for any
        # warm shutdown (RQ's own handler would raise out of here, past its teardown).
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop_before_the_loop)
        threads = ((self._beat, "bespin-heartbeat"), (self._sweep, "bespin-recovery"), (self._clock, "bespin-clock"))
        for target, name in threads:
            # Each is handed this run's stop event: a thread left stuck in a call to a Redis
            # that stopped answering must not go on beating for the loop started after.
            thread = threading.Thread(target=target, args=(self._bespin_stop,), name=name, daemon=True)
            thread.start()
            self._bespin_threads.append(thread)
        if not self._bespin_burst:  # a burst worker leaves once the queue is empty: no time to send in
            for start in extensions.worker_services:
                self._bespin_threads += start(self._bespin_stop)

    def _stop_before_the_loop(self, signum, frame):
        self._bespin_stop_asked = True
        self._stop_requested = True

    def execute_job(self, job, queue):
        lease = None
        # Entries carry their job's kind (jobs.execution.queue); older ones, made before, do not.
        kind = job.args[2] if len(job.args) > 2 else None
        limit = registry.concurrency_limit(kind) if kind else None
        if limit:
            lease = concurrency.acquire_or_park(
                kind=kind, limit=limit, rq_job_id=job.id, queue_key=queue.key, connection=self.connection
            )
            if lease is None:
                return None  # parked until a slot frees; its job stays pending
            self._bespin_lease = lease
        self._bespin_job = job.id
        try:
            if job.func_name in TASKS:
                return self._run_entry(job, queue)
            return super().execute_job(job, queue)
        finally:
            self._bespin_job = heartbeats.IDLE
            if lease is not None:
                self._give_back(lease)

    def _give_back(self, lease: concurrency.Lease) -> None:
        with self._bespin_lease_lock:
            self._bespin_lease = None
            try:
                concurrency.release(lease, connection=self.connection)
            except Exception:
                # It runs out by itself, LEASE_SECONDS on; the clock then wakes what waits.
                log.warning("giving back a slot of %s failed worker=%s", lease.kind, self.name, exc_info=True)

    def _beat(self, stop: threading.Event) -> None:
        self._bespin_beating = True
        try:
            while not stop.is_set():
                try:
                    # Under the lock, so that a renewal can never bring back a lease just given back.
                    with self._bespin_lease_lock:
                        heartbeats.beat(self.name, self._bespin_job, connection=self.connection, also=self._renew)
                except Exception:
                    log.warning("heartbeat failed worker=%s", self.name, exc_info=True)
                stop.wait(heartbeats.INTERVAL)
        finally:
            self._bespin_beating = False

    def _renew(self, pipe) -> None:
        """What the heartbeat renews beside Bespin's own: RQ's worker key (`rq info`, RQ's
        registry of workers) with its state, and the concurrency slot held, if any."""
        super().heartbeat(pipeline=pipe)
        pipe.hset(self.key, "state", self.get_state())
        if self._bespin_lease is not None:
            concurrency.renew(pipe, lease=self._bespin_lease)

    def _clock(self, stop: threading.Event) -> None:
        while not stop.wait(clock.INTERVAL):
            try:
                if clock.take_turn(self.connection, self.name):
                    close_old_connections()
                    clock.run_clock()
            except Exception:
                log.warning("clock failed worker=%s", self.name, exc_info=True)
        connection.close()

    def _sweep(self, stop: threading.Event) -> None:
        while not stop.wait(SWEEP_INTERVAL):
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
