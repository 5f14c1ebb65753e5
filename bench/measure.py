"""Each figure of the performance issue, measured against a running Stack, and its raw-RQ
baseline. Every loop is bounded in count and in time; all traffic goes to 127.0.0.1."""

import asyncio
import hashlib
import hmac
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

from redis import Redis
from rq import Queue
from rq.job import Job as RQJob
from rq.suspension import resume, suspend
from websockets.asyncio.client import connect

from bench import rawrq
from bench.client import HttpConnection, closed_loop, percentile
from bench.stack import ROOT, SCRATCH_DB, WEBHOOK_SECRET, WEBHOOK_SOURCE, Stack, cpu_seconds, rss_kib

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
    totals, created, first_message, first_status, failures = [], [], [], Counter(), 0
    for i in range(warmup + samples):
        started = time.perf_counter()
        try:
            status, body = await connection.request("POST", RANDOM_TEXT)
            if status != 201:
                raise RuntimeError(f"POST answered {status}: {body[:200]!r}")
            answered = time.perf_counter()
            job_id = json.loads(body)["id"]
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
            first_status[first_seen] += 1
    connection.close()
    return {
        **summary(totals),
        "post_p50_ms": percentile(created, 0.5) * 1000,
        "first_ws_message_p50_ms": percentile(first_message, 0.5) * 1000,
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


class WorkersSuspended:
    """`with WorkersSuspended(stack):` — RQ's own suspension; each worker may still take the
    one job it was already blocked waiting for. Leaves the queues and the jobs table empty."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def __enter__(self):
        suspend(self.stack.redis)
        time.sleep(0.3)
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


# Webhooks


def _signed_delivery(i: int) -> tuple[bytes, list[tuple[str, str]]]:
    body = json.dumps({"event": "bench.ping", "sequence": i, "nonce": uuid.uuid4().hex}).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = [
        ("Content-Type", "application/json"),
        ("X-Webhook-Signature", signature),
        ("X-Webhook-Event", "bench.ping"),
        ("X-Webhook-Delivery", str(uuid.uuid4())),
    ]
    return body, headers


async def webhook_rate(stack: Stack, port: int, *, requests: int, senders: int, time_limit: float) -> dict:
    """Signed, unique deliveries from `senders` concurrent senders; "not available" when the
    endpoint answers 404 to every probe (the webhooks app not built yet)."""
    target = f"/api/webhooks/{WEBHOOK_SOURCE}"
    probe = [_signed_delivery(-i) for i in range(1, 6)]
    connection = HttpConnection(HOST, port)
    probe_statuses = Counter()
    for body, headers in probe:
        try:
            status, _ = await connection.request("POST", target, body, headers)
        except (TimeoutError, OSError, ConnectionError) as exc:
            probe_statuses[type(exc).__name__] += 1
            continue
        probe_statuses[status] += 1
    connection.close()
    if set(probe_statuses) == {404} or not any(200 <= s < 300 for s in probe_statuses if isinstance(s, int)):
        return {"available": False, "probe": dict(probe_statuses)}
    deliveries = [_signed_delivery(i) for i in range(requests)]  # signed before the clock starts
    stored_before = _receipts(stack)
    meter = CpuMeter(stack).start()
    load = await closed_loop(
        HOST, port, clients=senders, total=requests, time_limit=time_limit,
        make_request=lambda i: ("POST", target, *deliveries[i]),
    )  # fmt: skip
    cpu = meter.stop()
    stored = _receipts(stack)
    return {
        "available": True,
        "requests": load.requests,
        "accepted": load.ok(),
        "rate": load.ok() / load.elapsed if load.elapsed else 0.0,
        "stored": (stored - stored_before) if stored is not None and stored_before is not None else None,
        "p50_ms": percentile(load.latencies, 0.5) * 1000,
        "p99_ms": percentile(load.latencies, 0.99) * 1000,
        "statuses": dict(load.statuses),
        "errors": dict(load.errors),
        "cpu": cpu,
    }


def _receipts(stack: Stack) -> int | None:
    """Stored receipts, when the webhooks app has its table (the name Django would give it)."""
    with stack.db() as db:
        table = db.execute("SELECT to_regclass('webhooks_webhookreceipt')").fetchone()[0]
        return db.execute("SELECT count(*) FROM webhooks_webhookreceipt").fetchone()[0] if table else None


# Open WebSockets


def _read_lines(process: subprocess.Popen, into: queue.Queue, source: int = 0) -> None:
    for line in process.stdout:
        try:
            into.put((source, json.loads(line)))
        except ValueError:
            into.put((source, {"noise": line.strip()[:200]}))
    into.put((source, {"eof": True}))


def _collect(lines: queue.Queue, sources: int, key: str, timeout: float) -> list[dict]:
    """The first line carrying `key` from each of `sources` processes; a process that exits
    without one is given up on, and so is everything after `timeout` seconds."""
    got: dict[int, dict] = {}
    gone: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(got) + len(gone - set(got)) < sources and time.monotonic() < deadline:
        try:
            source, item = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if key in item and source not in got:
            got[source] = item
        elif "eof" in item:
            gone.add(source)
    return list(got.values())


def open_websockets(stack: Stack, port: int, *, sockets: int, client_processes: int, time_limit: float) -> dict:
    """`sockets` WebSockets on one Daphne, each watching its own pending job; then every job is
    cancelled through the service layer and every socket must receive its `cancelled`."""
    truncate_jobs(stack)
    suspend(stack.redis)  # the jobs must stay pending until the sockets are open
    seeder = subprocess.Popen(
        [sys.executable, "-m", "bench.seedjobs", str(sockets)], cwd=ROOT, env=stack.env(),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    seeder_lines: queue.Queue = queue.Queue()
    lines: queue.Queue = queue.Queue()  # the socket clients'
    threading.Thread(target=_read_lines, args=(seeder, seeder_lines), daemon=True).start()
    children = []
    try:
        seeded = _collect(seeder_lines, 1, "ids", 120)
        if not seeded:
            raise RuntimeError("bench.seedjobs created no jobs")
        ids = seeded[0]["ids"]
        ids_file = stack.logs / "ws-job-ids.txt"
        ids_file.write_text("\n".join(ids))
        server = stack.pid("daphne")
        time.sleep(0.5)
        rss_before = rss_kib(server)
        meter = CpuMeter(stack).start()
        share = -(-len(ids) // client_processes)
        opened_at = time.perf_counter()
        for first in range(0, len(ids), share):
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.wsfanout", str(port), str(ids_file), str(first), str(first + share),
                 str(time_limit)],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            children.append(child)
            threading.Thread(target=_read_lines, args=(child, lines, len(children)), daemon=True).start()
        opened = _collect(lines, len(children), "opened", time_limit)
        open_seconds = time.perf_counter() - opened_at
        total_open = sum(item["opened"] for item in opened)
        time.sleep(1.0)
        rss_open = rss_kib(server)
        connect_cpu = meter.stop()
        meter = CpuMeter(stack).start()
        ran_at = time.perf_counter()
        for process in (seeder, *children):
            process.stdin.write("go\n")
            process.stdin.flush()
        received = _collect(lines, len(children), "received", time_limit + 10)
        run_seconds = time.perf_counter() - ran_at
        rss_after = rss_kib(server)
        run_cpu = meter.stop()
        cancelled = _collect(seeder_lines, 1, "cancelled", 10)
    finally:
        for process in (seeder, *children):
            try:
                process.stdin.close()
            except OSError:
                pass
        for process in (seeder, *children):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        Queue(BESPIN_QUEUE, connection=stack.redis).empty()  # what the recovery sweep enqueued meanwhile
        resume(stack.redis)
    errors = Counter()
    for item in opened:
        errors.update(item.get("errors", {}))
    for item in received:
        errors.update(item.get("closed", {}))  # sockets the server closed before their update
    total_open = sum(item["opened"] for item in opened)
    return {
        "sockets": len(ids),
        "opened": total_open,
        "received": sum(item["received"] for item in received),
        "clients": received,
        "cancelled": cancelled[0]["cancelled"] if cancelled else None,
        "open_seconds": open_seconds,
        "run_seconds": run_seconds,
        "rss_before_mib": rss_before / 1024,
        "rss_open_mib": rss_open / 1024,
        "rss_after_mib": rss_after / 1024,
        "kib_per_socket": (rss_open - rss_before) / total_open if total_open else float("nan"),
        "errors": dict(errors),
        "connect_cpu": connect_cpu,
        "run_cpu": run_cpu,
    }
