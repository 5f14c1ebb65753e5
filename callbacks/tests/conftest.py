"""Fixtures of the callbacks tests: a receiver process that verifies signatures with the
Standard Webhooks reference library, users with a signing secret, jobs ended through
jobs.services.lifecycle, and Bespin's worker and server as processes."""

import pytest

from bespin.testing.processes import Processes
from callbacks import services, transport
from callbacks.models import CallbackDelivery
from jobs.services import lifecycle

# In the tests, retries come back after a fraction of a second (the schedule's length is kept).
FAST_BACKOFF = "0.2,0.2,0.2"


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
