"""Fixtures shared by every app's tests: real PostgreSQL (pytest-django's test database),
real Redis (flushed before each test), a real RQ worker, and the people permission tests need.

Also what keeps the suite from hanging: a channel layer of each test's own, no task left
running on an async test's event loop, and signal handlers RQ's worker leaves behind put back."""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import django_rq
import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connections
from pytest_asyncio import is_async_test
from redis import Redis
from rest_framework.test import APIClient

from bespin.lib import asyncdb
from bespin.tasks import TaskOptions
from bespin.testing import tasks as testing_tasks
from bespin.testing.processes import ROOT, SETPRIV, Processes, process_env, wait_for

# The processes the tests start (manage.py, run.sh) never read a developer's .env.dev.
os.environ["BESPIN_ENV_FILE"] = ""
from bespin.testing.signals import signal_handlers_kept
from jobs import events, registry
from jobs.execution.queue import QUEUE_NAME
from jobs.execution.worker import BespinWorker
from jobs.services import creation, lifecycle

# A callback receiver for the tests, run as a process of its own.
RECEIVER = Path(__file__).resolve().parent / "bespin" / "testing" / "receiver.py"


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
def fresh_channel_layer():
    """Each test gets a channel layer of its own: whatever state a layer keeps across event
    loops (channels_redis's core layer: a receive lock, a count of readers and the loop they
    read on, for the whole process) cannot carry one test's leftovers into the next."""
    channel_layers.backends.clear()
    yield
    layers = list(channel_layers.backends.values())
    channel_layers.backends.clear()
    for layer in layers:
        # The connections an event loop opened close with it; only the publishing loop
        # (jobs.events), which lives as long as the process, keeps this layer's open. flush
        # closes them. Tidying only: a test that happened to publish does not fail over it.
        with contextlib.suppress(Exception):
            events.run(layer.flush())


# How long an async test's tasks get to end once cancelled, before the test fails.
TASKS_END_WITHIN = 10.0


async def _end_tasks() -> None:
    this = asyncio.current_task()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TASKS_END_WITHIN
    while tasks := [task for task in asyncio.all_tasks() if task is not this and not task.done()]:
        if loop.time() > deadline:
            raise AssertionError(
                f"{len(tasks)} task(s) still running {TASKS_END_WITHIN} s after being cancelled: {tasks}"
            )
        # Again and again: Python 3.11's asyncio.wait_for, which redis-py puts around every
        # command it sends, swallows a cancellation that lands just as the command completes
        # (python/cpython#86296). A task that lost the one cancellation the event loop's own
        # shutdown gives it runs on, and the loop never closes: with channels_redis's core
        # layer, a WebSocket consumer's read of the layer went on polling Redis forever, and
        # `make test` hung there. Cancelled again a moment later, such a task is waiting for
        # Redis and ends.
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=0.1)


@pytest.fixture
async def _tasks_end_with_the_test():
    yield
    # Before the tasks end: the pool's own tasks close its connections.
    await asyncdb.close()
    await _end_tasks()
    # The thread that runs database_sync_to_async calls keeps its connection while Channels'
    # WebsocketCommunicator waits (Channels' test helper turns close_old_connections off
    # then); an idle connection left there at the end keeps the test database from being
    # dropped ("being accessed by other users").
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def tasks_end_with_async_tests(request):
    """An async test ends with no task left on its event loop (see _end_tasks)."""
    if is_async_test(request.node):
        request.getfixturevalue("_tasks_end_with_the_test")


@pytest.fixture
def redis_conn():
    """The tests' Redis database, emptied before the test."""
    connection = django_rq.get_connection(QUEUE_NAME)
    connection.flushdb()
    return connection


@pytest.fixture(autouse=True)
def _fresh_redis(request):
    """Redis emptied before each test that uses the database, which every test that creates
    jobs, counts limits or starts processes does; a test that uses Redis alone asks for
    `redis_conn`. Unit tests touch neither."""
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames):
        request.getfixturevalue("redis_conn")


@pytest.fixture
def queue():
    return django_rq.get_queue(QUEUE_NAME)


@pytest.fixture
def run_worker(queue):
    """Run a real RQ worker in burst mode: it takes every queued job, runs it, and returns.
    Started on `default` (which serves every priority's queue), or on the queues given."""

    def run(*queues) -> BespinWorker:
        worker = BespinWorker(list(queues) or [queue], connection=queue.connection)
        with signal_handlers_kept():
            worker.work(burst=True, logging_level="WARNING")
        return worker

    return run


@pytest.fixture
def register_task(monkeypatch):
    """Offer a task to the API for one test, under `name`, with the options given:
    `register_task(tasks.flaky, "flaky", retries=3)`. Workers in this process see it; workers
    started as processes do not."""

    def register(task, name: str, *, priority: int | None = None, **options):
        if priority is not None:
            task = task.using(priority=priority)
        kind = registry.JobKind(name=name, task=task, options=TaskOptions(name=name, api=True, **options))
        monkeypatch.setitem(registry.registered(), name, kind)
        return kind

    return register


@pytest.fixture
def failing_kind(register_task):
    """A task that raises RuntimeError("disk on fire"), offered as `boom`."""
    return register_task(testing_tasks.boom, "boom")


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


@pytest.fixture
def make_job(django_capture_on_commit_callbacks):
    """make_job(kind, params, owner, state): a job made by create_job and, past `pending`,
    moved on by the service calls a worker makes (start, complete or fail) or by cancel_job.
    Page tests run in a transaction that never commits, where a real worker cannot run."""

    def make(kind="random_text", params=None, owner=None, state="pending", result="cloud data", error="disk on fire"):
        # Nothing commits in a test transaction: run the after-commit enqueue and publish now.
        with django_capture_on_commit_callbacks(execute=True):
            job = creation.create_job(kind=kind, params=params if params is not None else {"length": 2}, owner=owner)
            if state in ("running", "completed", "failed"):
                job = lifecycle.start_job(job_id=job.id, worker_name="test-worker")
            if state == "completed":
                lifecycle.complete_job(job=job, result=result)
            elif state == "failed":
                lifecycle.fail_job(job=job, error=error)
            elif state == "cancelled":
                lifecycle.cancel_job(job=job)
        job.refresh_from_db()
        assert job.status == state
        return job

    return make


@pytest.fixture
def processes(tmp_path, request):
    """Bespin's processes (bespin.testing.processes) as the test starts them, all stopped after it;
    with the environment of the test module's PROCESS_ENV, if it has one."""
    started = Processes(tmp_path, **getattr(request.module, "PROCESS_ENV", {}))
    yield started
    started.stop_all()


@pytest.fixture
def signed_in(client, owner):
    """The test client, signed in as `owner`."""
    client.force_login(owner)
    return client


@pytest.fixture
def staff_client(client, staff):
    """The test client, signed in as `staff`. (pytest-django's `admin_client` is a superuser's.)"""
    client.force_login(staff)
    return client


@dataclass
class Receiver:
    """A callback receiver process (bespin/testing/receiver.py): what it was sent, verified
    with the Standard Webhooks reference library."""

    process: subprocess.Popen
    port: int
    log: Path

    def url(self, path: str = "/hooks/bespin?source=tests") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def wait_for_requests(self, count: int, timeout: float = 30) -> list[dict]:
        wait_for(lambda: len(self.requests()) >= count, timeout, message=f"{count} request(s) at the receiver")
        return self.requests()


@pytest.fixture
def receiver(tmp_path):
    """receiver("--fail-first", "2", secrets=[…]): a receiver process; stopped after the test."""
    started: list[Receiver] = []

    def start(*options: str, secrets=()) -> Receiver:
        log = tmp_path / f"receiver-{len(started)}.jsonl"
        command = [sys.executable, str(RECEIVER), str(log), *options]
        if SETPRIV:
            command = [SETPRIV, "--pdeathsig", "KILL", "--", *command]
        process = subprocess.Popen(
            command, env={**os.environ, "RECEIVER_SECRETS": " ".join(secrets)}, stdout=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        port = int(process.stdout.readline())
        started.append(Receiver(process, port, log))
        return started[-1]

    yield start
    for running in started:
        running.process.kill()
        running.process.wait(10)
