"""`manage.py bootstrap`, what `make dev` runs first: with PostgreSQL or Redis unreachable,
the one line saying which and how to start it is all it prints, not the driver's retries and
warnings before it; with both there, it creates a missing database and migrates it."""

import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bespin.testing.processes import ROOT, free_port, process_env


def bootstrap(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "bootstrap", "--no-user"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env=process_env(DEBUG="1", **env),
    )  # fmt: skip


@pytest.mark.django_db
def test_an_unreachable_postgresql_is_one_clear_line():
    answer = bootstrap(DATABASE_URL=f"postgres://bespin@127.0.0.1:{free_port()}/bespin")
    assert answer.returncode == 1
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1, answer.stderr
    assert lines[0].startswith("CommandError: PostgreSQL is not reachable at DATABASE_URL (connection failed")
    assert "start it, e.g. `pg_ctlcluster" in lines[0]


@pytest.mark.django_db
def test_an_unreachable_redis_is_one_clear_line():
    answer = bootstrap(REDIS_URL=f"redis://127.0.0.1:{free_port()}/9")
    assert answer.returncode == 1
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CommandError: Redis is not reachable at redis://"), answer.stderr


@pytest.mark.django_db
def test_a_missing_database_is_created_and_migrated():
    name = f"bespin_bootstrap_{uuid.uuid4().hex[:8]}"
    url = urlunsplit(urlsplit(process_env()["DATABASE_URL"])._replace(path=f"/{name}"))
    try:
        answer = bootstrap(DATABASE_URL=url)
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.splitlines()[:2] == [f"created database {name}", "database migrated"]
        with psycopg.connect(url) as db:
            assert db.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0
    finally:
        with psycopg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")), autocommit=True) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
