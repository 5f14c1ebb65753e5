"""What bench/peers.py runs in each backend's own Django: enqueue the benchmark's task from
code and read it back through `get_result`, as an application would. Prints one JSON line:

    python -m bench.peerdriver JOBS SAMPLES

- throughput: JOBS tasks enqueued one after another, from the first enqueue until get_result
  sees the last of them SUCCESSFUL (the oldest unfinished one is asked about at a time);
- latency: SAMPLES tasks one at a time, each from its enqueue until get_result sees it
  SUCCESSFUL (asked every POLL seconds).
"""

import json
import os
import sys
import time

import django

POLL = 0.002
LIMIT = 120.0


def main() -> None:
    jobs, samples = int(sys.argv[1]), int(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bespin.settings")
    django.setup()
    from django_tasks import TaskResultStatus

    from bench.peertask import add

    def finished(result_id: str) -> bool:
        status = add.get_result(result_id).status
        if status == TaskResultStatus.FAILED:
            raise SystemExit(f"task {result_id} failed")
        return status == TaskResultStatus.SUCCESSFUL

    for n in range(5):  # warm up: the workers' imports and connections
        result = add.enqueue(n, 1)
        deadline = time.monotonic() + LIMIT
        while not finished(result.id) and time.monotonic() < deadline:
            time.sleep(POLL)

    started = time.perf_counter()
    ids = [add.enqueue(n, 1).id for n in range(jobs)]
    enqueued = time.perf_counter() - started
    deadline = time.monotonic() + LIMIT
    waiting = 0
    while waiting < len(ids) and time.monotonic() < deadline:
        if finished(ids[waiting]):
            waiting += 1
        else:
            time.sleep(POLL)
    remaining = sum(not finished(result_id) for result_id in ids[waiting:])
    elapsed = time.perf_counter() - started

    latencies = []
    for n in range(samples):
        began = time.perf_counter()
        result = add.enqueue(n, 2)
        deadline = time.monotonic() + LIMIT
        while not finished(result.id):
            if time.monotonic() > deadline:
                raise SystemExit(f"task {result.id} did not finish within {LIMIT} s")
            time.sleep(POLL)
        latencies.append(time.perf_counter() - began)
    print(json.dumps({
        "jobs": jobs, "completed": jobs - remaining, "seconds": elapsed, "enqueue_seconds": enqueued,
        "latencies": latencies,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
