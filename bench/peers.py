"""Bespin beside django-tasks' other backends: one `@task` (bench/peertask.py) run three ways in
one run on this machine, each with 2 workers:

- Bespin's backend, its workers as `manage.py rqworker default` starts them;
- django-tasks-rq, as its documentation runs it: `manage.py rqworker --job-class
  django_tasks_rq.Job`, on a spare Redis database of its own;
- django-tasks-db, as its documentation runs it: `manage.py db_worker` (which looks for work
  every second when it finds none: its default `--interval`).

For each, bench/peerdriver.py, in that backend's own Django, enqueues the task from code and
reads it back with `get_result`: the throughput of JOBS tasks, and enqueue → SUCCESSFUL,
p50 and p99. The peers' settings are bench/peer_settings.py. `make bench` runs it with the rest;
alone, `.venv/bin/python bench/run.py --peers [--quick]` writes its own block of
docs/BENCHMARKS.md.
"""

import json
import subprocess
import sys
import time

from redis import Redis

from bench.stack import ROOT, Stack, with_db

# Bespin's throughput at least this many times each peer's, and its p50 at most this share of
# django-tasks-db's.
THROUGHPUT_FACTOR = 1.5
P50_SHARE_OF_DB = 0.5
# The peers' spare Redis database, apart from Bespin's and the query probe's.
PEER_REDIS_DB = 14


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _drive(stack: Stack, env: dict, jobs: int, samples: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bench.peerdriver", str(jobs), str(samples)],
        cwd=ROOT, env=stack.env(**env), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"the driver failed ({env.get('BENCH_PEER', 'bespin')}):\n{result.stderr[-3000:]}")
    run = json.loads(result.stdout.strip().splitlines()[-1])
    latencies = [seconds * 1000 for seconds in run.pop("latencies")]
    return {
        **run,
        "rate": run["completed"] / run["seconds"] if run["seconds"] else 0.0,
        "p50_ms": _percentile(latencies, 0.5),
        "p99_ms": _percentile(latencies, 0.99),
        "samples": len(latencies),
    }


def _wait_for_rq_workers(redis: Redis, count: int, timeout: float = 60) -> None:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while Worker.count(connection=redis) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} django-tasks-rq workers after {timeout:.0f} s")
        time.sleep(0.2)


def measure(stack: Stack, *, jobs: int, samples: int, workers: int = 2) -> dict:
    """The three backends, one after another; Bespin's workers are the stack's own."""
    results = {"bespin": _drive(stack, {}, jobs, samples)}

    rq_url = with_db(stack.redis_url, str(PEER_REDIS_DB))
    rq_redis = Redis.from_url(rq_url)
    rq_redis.flushdb()
    rq_env = {"DJANGO_SETTINGS_MODULE": "bench.peer_settings", "BENCH_PEER": "rq", "REDIS_URL": rq_url}
    names = [f"peer-rq-{i}" for i in range(workers)]
    try:
        for name in names:
            stack.start(name, [sys.executable, "manage.py", "rqworker", "default", "--job-class",
                               "django_tasks_rq.Job"], **rq_env)  # fmt: skip
        _wait_for_rq_workers(rq_redis, workers)
        results["rq"] = _drive(stack, rq_env, jobs, samples)
    finally:
        for name in names:
            stack.stop_process(name)
        rq_redis.flushdb()

    db_env = {"DJANGO_SETTINGS_MODULE": "bench.peer_settings", "BENCH_PEER": "db"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=stack.env(**db_env), check=True,
        timeout=120,
    )  # fmt: skip
    names = [f"peer-db-{i}" for i in range(workers)]
    try:
        for name in names:
            stack.start(name, [sys.executable, "manage.py", "db_worker"], **db_env)
        time.sleep(2)  # its start-up delay: up to a second, at random
        results["db"] = _drive(stack, db_env, jobs, samples)
    finally:
        for name in names:
            stack.stop_process(name)
    return results


def render(peers: dict | None, workers: int) -> list[str]:
    """The table of this comparison for docs/BENCHMARKS.md."""
    if not peers:
        return []
    bespin = peers["bespin"]
    rows = []
    for name, label in (("bespin", "Bespin's backend"), ("rq", "django-tasks-rq"), ("db", "django-tasks-db")):
        run = peers[name]
        rows.append(
            f"| {label} | {run['rate']:.0f} tasks/s ({run['completed']}/{run['jobs']} in {run['seconds']:.1f} s; "
            f"enqueued at {run['jobs'] / run['enqueue_seconds']:.0f}/s) | {run['p50_ms']:.1f} ms | "
            f"{run['p99_ms']:.1f} ms |"
        )
    throughput_ok = all(bespin["rate"] >= THROUGHPUT_FACTOR * peers[name]["rate"] for name in ("rq", "db"))
    p50_ok = bespin["p50_ms"] <= P50_SHARE_OF_DB * peers["db"]["p50_ms"]
    ratios = ", ".join(f"{bespin['rate'] / peers[name]['rate']:.2f}x {name}" for name in ("rq", "db"))
    return [
        f"One `@task` enqueued from code and read back with `get_result`, {workers} workers each "
        "(bench/peers.py): throughput of the tasks enqueued one after another, and enqueue → SUCCESSFUL.",
        "",
        "| backend | throughput | enqueue → SUCCESSFUL p50 | p99 |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Targets: Bespin's throughput ≥ {THROUGHPUT_FACTOR:g}x each peer's ({ratios}: "
        f"{'met' if throughput_ok else '**not met**'}); its p50 ≤ {P50_SHARE_OF_DB:g}x django-tasks-db's "
        f"({bespin['p50_ms'] / peers['db']['p50_ms']:.2f}x: {'met' if p50_ok else '**not met**'}). Bespin also "
        "writes each job's row, publishes its changes to WebSockets and keeps its Reliability promises.",
    ]
