"""RQ entry points: take ids, call a service, return."""

from django.db import close_old_connections
from rq import get_current_job

from jobs import runner


def run_job(job_id: str, attempt: int | None = None) -> None:
    # A worker lives for days: drop a connection PostgreSQL closed since the last job,
    # as Django does at the start of each request.
    close_old_connections()
    rq_job = get_current_job()
    runner.run_job(job_id=job_id, attempt=attempt, worker_name=(rq_job.worker_name or "") if rq_job else "")
