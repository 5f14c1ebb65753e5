"""The SQL one job costs: `python -m bench.queries` (run by run.py against the scratch
database, with a Redis database no worker reads, so the probe job is run here only).

Creates a random_text job through `jobs.services.creation.create_job` as the API does, then runs it
through `jobs.execution.entrypoint.run_job` as a worker does, and prints every statement each side sent
as JSON. Pool check-outs and their health checks are not statements Django sees; they
are counted separately from psycopg_pool's own statistics.
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bespin.settings")
django.setup()

from django.db import connection  # noqa: E402

from jobs.execution import entrypoint  # noqa: E402
from jobs.services import creation  # noqa: E402


def capture(work) -> tuple[list[str], dict]:
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(" ".join(sql.split())[:160])
        return execute(sql, params, many, context)

    pool = connection.pool
    before = dict(pool.get_stats()) if pool else {}
    with connection.execute_wrapper(record):
        work()
        connection.close()  # as at the end of a request, and at the next job's close_old_connections
    after = dict(pool.get_stats()) if pool else {}
    pool_delta = {key: after.get(key, 0) - before.get(key, 0) for key in ("requests_num", "connections_num")}
    return statements, pool_delta


def main() -> None:
    job = None

    def create() -> None:
        nonlocal job
        job = creation.create_job(kind="random_text", params={"length": 100})

    create_sql, create_pool = capture(create)
    run_sql, run_pool = capture(lambda: entrypoint.run_job(str(job.id)))
    job.refresh_from_db()
    print(json.dumps({
        "status": job.status,
        "create": {"statements": create_sql, "pool": create_pool},
        "run": {"statements": run_sql, "pool": run_pool},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
