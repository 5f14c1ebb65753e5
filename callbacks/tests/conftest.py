"""Fixtures of the callbacks tests: a receiver process that verifies signatures with the
Standard Webhooks reference library, users with a signing secret, jobs ended through
jobs.services.lifecycle, and Bespin's worker and server as processes."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bespin.testing.processes import SETPRIV, Processes, wait_for
from callbacks import services, transport
from callbacks.models import CallbackDelivery
from jobs.services import lifecycle

RECEIVER = Path(__file__).resolve().parent / "receiver.py"
# In the tests, retries come back after a fraction of a second (the schedule's length is kept).
FAST_BACKOFF = "0.2,0.2,0.2"


@dataclass
class Receiver:
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


@pytest.fixture(autouse=True)
def private_addresses_allowed(settings):
    """The receivers listen on 127.0.0.1; the SSRF tests turn this off again."""
    settings.CALLBACK_ALLOW_PRIVATE = True
    settings.CALLBACK_BACKOFF = (0.0, 0.0, 0.0)
    settings.PUBLIC_URL = "http://testserver"
    yield
    transport.close_all()  # the connections this thread kept alive to the test's receivers


@pytest.fixture
def signer(owner):
    """`owner` with a callback secret; yields (owner, secret)."""
    return owner, services.rotate_callback_secret(user=owner).secret


def end_job(job, status: str = "completed"):
    """Move a pending job to `status` as a worker or a user would, through jobs.services.lifecycle."""
    if status == "cancelled":
        return lifecycle.cancel_job(job=job)
    running = lifecycle.start_job(job_id=job.id, worker_name="test-worker")
    if status == "completed":
        lifecycle.complete_job(job=running, result="cloud data")
    else:
        lifecycle.fail_job(job=running, error="disk on fire")
    return running


def delivery_of(job) -> CallbackDelivery:
    return CallbackDelivery.objects.get(job=job)


@pytest.fixture
def processes(tmp_path):
    """Bespin's processes on the test database: callbacks to 127.0.0.1 allowed, retries fast."""
    running = Processes(
        tmp_path, BESPIN_CALLBACK_ALLOW_PRIVATE="1", BESPIN_CALLBACK_BACKOFF=FAST_BACKOFF,
        BESPIN_CALLBACK_TIMEOUT="2", LOG_LEVEL="WARNING",
    )  # fmt: skip
    yield running
    running.stop_all()


@pytest.fixture
def tls_receiver():
    from callbacks.tests.tls import TlsReceiver

    server = TlsReceiver()
    yield server
    server.close()
