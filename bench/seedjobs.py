"""Setup and updates for the open-WebSockets measurement: `python -m bench.seedjobs N`.

Inserts N pending random_text jobs through the Job model (bulk, not enqueued) and prints
their ids as JSON; once every socket is open, run.py writes "go" on stdin and this process
cancels each job through `jobs.services.lifecycle.cancel_job`, the service the cancel endpoint calls,
from a few threads: a conditional UPDATE and a publish per job, so every socket must
receive its `cancelled`.
The workers stay suspended meanwhile. Running 5,000 jobs instead would measure the workers
again (the throughput figure does) and take minutes on two cores.
"""

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bespin.settings")
django.setup()

from django.db import connection  # noqa: E402

from jobs.models import Job  # noqa: E402
from jobs.services import lifecycle  # noqa: E402

CANCEL_THREADS = 6


def _cancel(job: Job) -> int:
    try:
        lifecycle.cancel_job(job=job)
    except lifecycle.JobStateConflict:  # a worker ran it just before the suspension
        return 0
    finally:
        connection.close()
    return 1


def main(count: int) -> None:
    jobs = Job.objects.bulk_create(
        [Job(type="random_text", params={"length": 100}) for _ in range(count)], batch_size=1000
    )
    print(json.dumps({"ids": [str(job.id) for job in jobs]}), flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    started = time.perf_counter()
    # Several threads, as several API requests would: each cancel mostly waits on PostgreSQL
    # and Redis round trips. Each thread takes a pool connection of its own.
    with ThreadPoolExecutor(max_workers=CANCEL_THREADS) as pool:
        cancelled = sum(pool.map(_cancel, jobs))
    print(json.dumps({"cancelled": cancelled, "seconds": time.perf_counter() - started}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
