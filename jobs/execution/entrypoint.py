"""RQ entry points: take ids, call a service, return."""

from django.db import close_old_connections

from jobs.execution import runner

# The name of the worker running in this process (jobs.execution.worker sets it): asking RQ for the
# current job's worker costs several Redis round trips per job in RQ 3.
worker_name = ""


def run_job(job_id: str, attempt: int | None = None, kind: str | None = None) -> None:
    # `kind` is for the worker, which holds back a job whose kind has no free slot before
    # this runs (jobs.execution.worker); the row says the kind again.
    # A worker lives for days: drop a connection PostgreSQL closed since the last job,
    # as Django does at the start of each request.
    close_old_connections()
    runner.run_job(job_id=job_id, attempt=attempt, worker_name=worker_name)
