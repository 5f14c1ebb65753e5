"""The open-sockets figure: thousands of WebSockets on one Daphne, each watching its own
job, then every job cancelled; each socket must receive its job's change."""

import json
import queue
import subprocess
import sys
import threading
import time
from collections import Counter

from rq import Queue
from rq.suspension import resume, suspend

from bench.measure import BESPIN_QUEUE, CpuMeter, truncate_jobs
from bench.stack import ROOT, Stack, rss_kib


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
