"""Setup for the open-WebSockets measurement: `python -m bench.seedjobs N`.

Inserts N pending random_text jobs through the Job model (bulk, no enqueue), prints their
ids as JSON, waits for a line "go" on stdin, then enqueues each through
`jobs.services.enqueue_job`, the function `create_job` itself calls after commit, so the
jobs then run through the real workers. Creating 5,000 jobs through the API would measure
job creation again and take longer than the sockets themselves.
"""

import json
import os
import sys

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
    for job in jobs:
        services.enqueue_job(job)
    print(json.dumps({"enqueued": len(jobs)}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
