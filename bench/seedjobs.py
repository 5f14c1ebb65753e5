"""Setup and updates for the open-WebSockets measurement: `python -m bench.seedjobs N`.

Inserts N pending random_text jobs through the Job model (bulk, not enqueued) and prints
their ids as JSON; once every socket is open, run.py writes "go" on stdin and this process
cancels each job through `jobs.services.cancel_job`, the service the cancel endpoint calls:
a conditional UPDATE and a publish per job, so every socket must receive its `cancelled`.
The workers stay suspended meanwhile. Running 5,000 jobs instead would measure the workers
again (the throughput figure does) and take minutes on two cores.
"""

import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bespin.settings")
django.setup()

from jobs import kinds, services  # noqa: E402
from jobs.models import Job  # noqa: E402


def main(count: int) -> None:
    jobs = Job.objects.bulk_create(
        [Job(type=kinds.RANDOM_TEXT, params={"length": 100}) for _ in range(count)], batch_size=1000
    )
    print(json.dumps({"ids": [str(job.id) for job in jobs]}), flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    started = time.perf_counter()
    cancelled = 0
    for job in jobs:
        try:
            services.cancel_job(job=job)
            cancelled += 1
        except services.JobStateConflict:
            pass
    print(json.dumps({"cancelled": cancelled, "seconds": time.perf_counter() - started}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
