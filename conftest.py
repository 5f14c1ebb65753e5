"""Fixtures shared by every app's tests: real PostgreSQL (pytest-django's test database),
real Redis (flushed before each test), a real RQ worker, and the people permission tests need."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import django_rq
import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from redis import Redis
from rest_framework.test import APIClient

from jobs.queue import QUEUE_NAME
from jobs.worker import BespinWorker


def pytest_configure(config):
    db = Redis.from_url(settings.REDIS_URL).connection_pool.connection_kwargs.get("db", 0)
    if db == 0:
        raise pytest.UsageError(
            f"tests flush Redis database {db} of REDIS_URL={settings.REDIS_URL}; point REDIS_URL at a spare "
            "database (make test uses redis://127.0.0.1:6379/9)"
        )
    # Hashed static names need `collectstatic` first (make build, the Dockerfile); tests serve
    # the files as they are.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


ROOT = Path(__file__).resolve().parent


def database_url_for_tests() -> str:
    """DATABASE_URL of pytest-django's test database, for processes the tests start."""
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres:///bespin"))
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def process_env(**extra) -> dict:
    """The environment for a Bespin process started by a test: the test database and Redis."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": "bespin-tests-only",
        "DEBUG": "0",
        "BESPIN_THROTTLE_ANON": "",
        **extra,
    }


@pytest.fixture
def run_worker_process():
    """Run `manage.py rqworker --burst` as its own process, for tests whose own thread is busy
    (an async test's event loop)."""

    def run() -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", "rqworker", "default", "--burst"],
            cwd=ROOT, env=process_env(), capture_output=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode()

    return run


@pytest.fixture(autouse=True)
def redis_conn():
    connection = django_rq.get_connection(QUEUE_NAME)
    connection.flushdb()
    yield connection


@pytest.fixture
def queue():
    return django_rq.get_queue(QUEUE_NAME)


@pytest.fixture
def run_worker(queue):
    """Run a real RQ worker in burst mode: it takes every queued job, runs it, and returns."""

    def run() -> BespinWorker:
        worker = BespinWorker([queue], connection=queue.connection)
        worker.work(burst=True, logging_level="WARNING")
        return worker

    return run


@pytest.fixture
def register_kind(monkeypatch):
    """Add a job kind for one test: `register_kind("boom", handler, max_retries=1)`. Workers
    in this process see it; workers started as processes do not."""
    from jobs import kinds
    from jobs.kinds.random_text import RandomTextParams

    def register(name, handler, params_serializer=RandomTextParams, **options):
        kind = kinds.JobKind(name=name, params_serializer=params_serializer, handler=handler, **options)
        monkeypatch.setitem(kinds.KINDS, name, kind)
        return kind

    return register


def _boom(params, progress):
    raise RuntimeError("disk on fire")


@pytest.fixture
def failing_kind(register_kind):
    """A kind whose handler raises RuntimeError("disk on fire")."""
    return register_kind("boom", _boom)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def team(db):
    return Group.objects.create(name="platform")


@pytest.fixture
def owner(db, team):
    user = User.objects.create_user("owner", password="owner-password-1")
    user.groups.add(team)
    return user


@pytest.fixture
def teammate(db, team):
    user = User.objects.create_user("teammate", password="teammate-password-1")
    user.groups.add(team)
    return user


@pytest.fixture
def stranger(db):
    return User.objects.create_user("stranger", password="stranger-password-1")


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", password="staff-password-1", is_staff=True)
