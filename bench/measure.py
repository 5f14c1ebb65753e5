"""Latency, throughput and creation, measured against a running Stack beside their raw-RQ
baselines (webhooks: bench/hooks.py, sockets: bench/sockets.py). Every loop is bounded in
count and in time; all traffic goes to 127.0.0.1."""

import asyncio
import json
import os
import sys
import threading
import time
from collections import Counter

from redis import Redis
from rq import Queue
from rq.job import Job as RQJob
from rq.suspension import resume, suspend
from websockets.asyncio.client import connect

from bench import rawrq
from bench.client import HttpConnection, closed_loop, percentile
from bench.stack import SCRATCH_DB, Stack, cpu_seconds

try:
    from uvloop import run as run_async
except ImportError:  # the client is leaner on uvloop, but asyncio's own loop works too
    run_async = asyncio.run

HOST = "127.0.0.1"
RANDOM_TEXT = "/api/jobs/random-text?length=100"
BESPIN_QUEUE = "default"
FINAL = ("completed", "failed", "cancelled")


def summary(seconds: list[float]) -> dict:
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 0.5) * 1000,
        "p99_ms": percentile(seconds, 0.99) * 1000,
        "max_ms": max(seconds) * 1000 if seconds else float("nan"),
    }


def truncate_jobs(stack: Stack) -> None:
    with stack.db() as db:
        db.execute("TRUNCATE jobs_job CASCADE")


# CPU accounting: on two shared cores, CPU per job is what bounds throughput.


class CpuMeter:
    """CPU seconds spent by each part of the system between start() and stop()."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def _pids(self) -> dict[str, list[int]]:
        groups = {
            "daphne": [self.stack.pid(n) for n in self.stack.names("daphne")],
            "uvicorn": [self.stack.pid(n) for n in self.stack.names("uvicorn")],
            "Bespin workers": [self.stack.pid(n) for n in self.stack.names("worker-")],
            "raw RQ workers": [self.stack.pid(n) for n in self.stack.names("raw-")],
            "bench client": [os.getpid()],
        }
        with self.stack.db() as db:
            rows = db.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [SCRATCH_DB]
            ).fetchall()
        groups["PostgreSQL backends"] = [pid for (pid,) in rows]
        groups["redis-server (shared)"] = [int(self.stack.redis.info("server")["process_id"])]
        return groups

    def _snapshot(self) -> dict[str, dict[int, float]]:
        return {group: {pid: cpu_seconds(pid) for pid in pids} for group, pids in self._pids().items()}

    def start(self) -> "CpuMeter":
        self.before = self._snapshot()
        self.wall = time.perf_counter()
        return self

    def stop(self) -> dict:
        after = self._snapshot()
        used = {
            group: sum(cpu - self.before.get(group, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for group, pids in after.items()
        }
        used = {group: seconds for group, seconds in used.items() if seconds > 0.005}
        return {"wall": time.perf_counter() - self.wall, "cpu": used}


# End-to-end latency


async def bespin_latency(port: int, *, samples: int, warmup: int) -> dict:
    """POST /api/jobs/random-text, open the job's WebSocket, stop at `completed`: one job at a time."""
    connection = HttpConnection(HOST, port)
    totals, created, first_message, socket_first, first_status, failures = [], [], [], [], Counter(), 0
    for i in range(warmup + samples):
        started = time.perf_counter()
        try:
            status, body = await connection.request("POST", RANDOM_TEXT)
            if status != 201:
                raise RuntimeError(f"POST answered {status}: {body[:200]!r}")
            answered = time.perf_counter()
            job_id = json.loads(body)["id"]
            opening = time.perf_counter()
            async with connect(f"ws://{HOST}:{port}/api/ws/jobs?job_id={job_id}", ping_interval=None) as ws:
                first = None
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                    if first is None:
                        first = time.perf_counter()
                        first_seen = message.get("status")
                    if message.get("status") in FINAL:
                        break
            finished = time.perf_counter()
            if message["status"] != "completed":
                raise RuntimeError(f"job {job_id} ended {message['status']}: {message.get('error')}")
        except (TimeoutError, OSError, RuntimeError, ValueError) as exc:
            failures += 1
            print(f"  latency sample failed: {exc}", file=sys.stderr)
            continue
        if i >= warmup:
            totals.append(finished - started)
            created.append(answered - started)
            first_message.append(first - started)
            socket_first.append(first - opening)
            first_status[first_seen] += 1
    connection.close()
    return {
        **summary(totals),
        "post_p50_ms": percentile(created, 0.5) * 1000,
        "first_ws_message_p50_ms": percentile(first_message, 0.5) * 1000,
        # From opening the connection (TCP, handshake) to the job's status on it.
        "ws_open_to_first_p50_ms": percentile(socket_first, 0.5) * 1000,
        "first_status": dict(first_status),
        "failures": failures,
    }


def raw_latency(redis: Redis, *, samples: int, warmup: int) -> dict:
    """enqueue → the result as a client sees it (RQ's result stream, XREAD BLOCK): one at a time."""
    q = Queue(rawrq.QUEUE_NAME, connection=redis)
    totals, failures = [], 0
    for i in range(warmup + samples):
        started = time.perf_counter()
        job = q.enqueue(rawrq.random_text, 100, result_ttl=60)
        result = job.latest_result(timeout=10)
        finished = time.perf_counter()
        if result is None or result.type != result.Type.SUCCESSFUL:
            failures += 1
            continue
        if i >= warmup:
            totals.append(finished - started)
    return {**summary(totals), "failures": failures}


# Throughput


async def bespin_throughput(
    stack: Stack, port: int, *, jobs: int, clients: int, load_seconds: float, time_limit: float
) -> dict:
    """`jobs` POSTs from `clients` (or as many as `load_seconds` allows), 2 workers running:
    from the first POST to the last job's finished_at."""
    truncate_jobs(stack)
    meter = CpuMeter(stack).start()
    load = await closed_loop(
        HOST, port, clients=clients, total=jobs, time_limit=load_seconds,
        make_request=lambda i: ("POST", RANDOM_TEXT, b"", ()),
    )  # fmt: skip
    created = load.ok()
    deadline = time.monotonic() + time_limit
    with stack.db() as db:
        while True:
            done, completed, last = db.execute(
                "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed', 'cancelled')),"
                " count(*) FILTER (WHERE status = 'completed'), max(finished_at) FROM jobs_job"
            ).fetchone()
            if done >= created or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    cpu = meter.stop()
    span = last.timestamp() - load.first_sent if last else float("nan")
    return {
        "jobs": jobs,
        "created": created,
        "completed": completed,
        "seconds": span,
        "rate": completed / span if last else 0.0,
        "submit_rate": load.rate,
        "statuses": dict(load.statuses),
        "errors": dict(load.errors),
        "cpu": cpu,
    }


def raw_enqueue(redis: Redis, *, jobs: int, clients: int) -> tuple[list[str], float, float]:
    """`clients` threads, each with its own Redis connection, enqueue `jobs` raw jobs."""
    kwargs = redis.connection_pool.connection_kwargs
    numbers = iter(range(jobs))
    lock = threading.Lock()
    ids: list[str] = []

    def client() -> None:
        q = Queue(rawrq.QUEUE_NAME, connection=Redis(host=kwargs["host"], port=kwargs["port"], db=kwargs["db"]))
        while True:
            with lock:
                if next(numbers, None) is None:
                    return
            job = q.enqueue(rawrq.random_text, 100, result_ttl=600)
            ids.append(job.id)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    first_sent = time.time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return ids, first_sent, time.perf_counter() - started


def _raw_done(redis: Redis, ids: list[str]) -> int:
    """How many of these raw jobs have finished or failed (one pipelined HGET each)."""
    with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(f"rq:job:{job_id}", "status")
        return sum(1 for status in pipe.execute() if status in (b"finished", b"failed"))


def raw_throughput(stack: Stack, *, jobs: int, clients: int, time_limit: float) -> dict:
    meter = CpuMeter(stack).start()
    ids, first_sent, submit_seconds = raw_enqueue(stack.redis, jobs=jobs, clients=clients)
    deadline = time.monotonic() + time_limit
    while _raw_done(stack.redis, ids) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    cpu = meter.stop()
    finished = [job for job in RQJob.fetch_many(ids, connection=stack.redis) if job and job.ended_at]
    completed = sum(1 for job in finished if job.get_status() == "finished")
    last = max((job.ended_at for job in finished), default=None)
    span = last.timestamp() - first_sent if last else float("nan")
    return {
        "jobs": jobs,
        "completed": completed,
        "seconds": span,
        "rate": completed / span if last else 0.0,
        "submit_rate": len(ids) / submit_seconds if submit_seconds else 0.0,
        "cpu": cpu,
    }


# Job creation, HTTP only


async def creation_rate(stack: Stack, port: int, *, requests: int, clients: int, time_limit: float) -> dict:
    """Requests per second of POST /api/jobs/random-text with the workers suspended (`rq
    suspend`), so that only the HTTP side is measured; the queue grows and is emptied after."""
    meter = CpuMeter(stack).start()
    load = await closed_loop(
        HOST, port, clients=clients, total=requests, time_limit=time_limit,
        make_request=lambda i: ("POST", RANDOM_TEXT, b"", ()),
    )  # fmt: skip
    cpu = meter.stop()
    return {
        "requests": load.requests,
        "created": load.ok(),
        "rate": load.ok() / load.elapsed if load.elapsed else 0.0,
        "p50_ms": percentile(load.latencies, 0.5) * 1000,
        "p99_ms": percentile(load.latencies, 0.99) * 1000,
        "statuses": dict(load.statuses),
        "errors": dict(load.errors),
        "cpu": cpu,
    }


async def batch_rate(stack: Stack, port: int, *, jobs: int, size: int, clients: int, time_limit: float) -> dict:
    """Jobs per second created through POST /api/jobs/batch, `size` jobs a request, workers
    suspended; every job must come back in the answer and be in the table."""
    body = json.dumps({"jobs": [{"type": "random_text", "params": {"length": 100}}] * size}).encode()
    stored_before = _stored_jobs(stack)
    meter = CpuMeter(stack).start()
    load = await closed_loop(
        HOST, port, clients=clients, total=-(-jobs // size), time_limit=time_limit,
        make_request=lambda i: ("POST", "/api/jobs/batch", body, (("Content-Type", "application/json"),)),
    )  # fmt: skip
    cpu = meter.stop()
    stored = _stored_jobs(stack) - stored_before
    created = load.ok() * size
    return {
        "requests": load.requests,
        "size": size,
        "created": created,
        "stored": stored,
        "rate": created / load.elapsed if load.elapsed else 0.0,
        "p50_ms": percentile(load.latencies, 0.5) * 1000,
        "statuses": dict(load.statuses),
        "errors": dict(load.errors),
        "cpu": cpu,
    }


def _stored_jobs(stack: Stack) -> int:
    with stack.db() as db:
        return db.execute("SELECT count(*) FROM jobs_job").fetchone()[0]


class WorkersSuspended:
    """`with WorkersSuspended(stack):` — RQ's own suspension; each worker may still take the
    one job it was already blocked waiting for. Leaves the queues and the jobs table empty."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def __enter__(self):
        suspend(self.stack.redis)
        # Workers look for a suspension twice a second (jobs.execution.worker).
        time.sleep(0.8)
        return self

    def __exit__(self, *exc):
        Queue(BESPIN_QUEUE, connection=self.stack.redis).empty()
        Queue(rawrq.QUEUE_NAME, connection=self.stack.redis).empty()
        truncate_jobs(self.stack)
        resume(self.stack.redis)
        return False


def raw_enqueue_rate(stack: Stack, *, requests: int, clients: int) -> dict:
    ids, _, seconds = raw_enqueue(stack.redis, jobs=requests, clients=clients)
    return {"requests": len(ids), "rate": len(ids) / seconds if seconds else 0.0}
