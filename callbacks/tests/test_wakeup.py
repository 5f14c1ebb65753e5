"""The senders wake when a job with a callback ends: PostgreSQL notifies them once the end
commits, rather than their next look at what is due."""

import threading

import pytest

from callbacks.sender import Sender
from callbacks.tests.conftest import end_job
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listening_sender():
    stop = threading.Event()
    sender = Sender(stop=stop, concurrency=1)
    thread = threading.Thread(target=sender._listen, daemon=True)
    thread.start()
    assert sender.wake.wait(10), "the listener never connected"  # it wakes the dispatcher once listening
    yield sender
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_the_end_of_a_job_with_a_callback_wakes_the_sender(listening_sender, signer):
    job = creation.create_job(kind="random_text", params={}, owner=signer[0], callback_url="https://hooks.example.com/")
    listening_sender.wake.clear()
    end_job(job)
    assert listening_sender.wake.wait(10)


def test_the_end_of_a_job_without_one_does_not(listening_sender, signer):
    job = creation.create_job(kind="random_text", params={}, owner=signer[0])
    with_callback = creation.create_job(
        kind="random_text", params={}, owner=signer[0], callback_url="https://hooks.example.com/"
    )
    listening_sender.wake.clear()
    end_job(job)
    assert not listening_sender.wake.wait(0.5)
    end_job(with_callback)  # the listener is still listening: this one does wake it
    assert listening_sender.wake.wait(10)
