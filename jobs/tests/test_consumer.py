import asyncio
from functools import partial

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from bespin.asgi import application
from jobs import events
from jobs.consumers import CLOSE_BAD_REQUEST, CLOSE_NOT_FOUND
from jobs.models import JobStatus
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db(transaction=True)

create_job = database_sync_to_async(creation.create_job)


async def _connect(path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.parametrize("route", ["/api/ws/jobs", "/api/ws"])
async def test_current_status_is_sent_on_connect(route):
    job = await create_job(kind="random_text", params={"length": 5})
    communicator = await _connect(f"{route}?job_id={job.id}")
    message = await communicator.receive_json_from(timeout=5)
    assert message == {"type": "job_status", "job_id": str(job.id), "status": "pending", "progress": 0,
                       "result": None, "error": None}  # fmt: skip
    await communicator.disconnect()


async def test_updates_follow_until_completed(run_worker_process):
    job = await create_job(kind="random_text", params={"length": 12})
    communicator = await _connect(f"/api/ws/jobs?job_id={job.id}")
    assert (await communicator.receive_json_from(timeout=5))["status"] == JobStatus.PENDING
    await asyncio.get_running_loop().run_in_executor(None, run_worker_process)
    running = await communicator.receive_json_from(timeout=5)
    completed = await communicator.receive_json_from(timeout=5)
    assert (running["status"], completed["status"]) == (JobStatus.RUNNING, JobStatus.COMPLETED)
    assert len(completed["result"].split(" ")) == 12
    assert completed["progress"] == 100
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_a_finished_job_sends_its_result_on_connect(run_worker_process):
    job = await create_job(kind="random_text", params={"length": 4})
    await asyncio.get_running_loop().run_in_executor(None, run_worker_process)
    communicator = await _connect(f"/api/ws/jobs?job_id={job.id}")
    message = await communicator.receive_json_from(timeout=5)
    assert message["status"] == JobStatus.COMPLETED
    assert len(message["result"].split(" ")) == 4
    await communicator.disconnect()


async def test_older_update_arriving_late_is_not_sent_after_a_newer_one(run_worker_process):
    job = await create_job(kind="random_text", params={"length": 4})
    await asyncio.get_running_loop().run_in_executor(None, run_worker_process)
    communicator = await _connect(f"/api/ws/jobs?job_id={job.id}")
    assert (await communicator.receive_json_from(timeout=5))["status"] == JobStatus.COMPLETED
    publish = partial(asyncio.get_running_loop().run_in_executor, None, events.publish)
    # A "running" message published before the connect but delivered after it...
    job.status, job.progress = JobStatus.RUNNING, 0
    await publish(job)
    # ...then a newer state, as a new attempt would publish: it arrives after the stale one,
    # so it is the first thing the socket gets only if the stale one was dropped.
    job.attempt, job.status = 2, JobStatus.PENDING
    await publish(job)
    assert (await communicator.receive_json_from(timeout=5))["status"] == JobStatus.PENDING
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("query", "code", "reason"),
    [
        ("job_id=00000000-0000-0000-0000-000000000000", CLOSE_NOT_FOUND, "no job"),
        ("job_id=not-a-uuid", CLOSE_BAD_REQUEST, "malformed"),
        ("job_id=", CLOSE_BAD_REQUEST, "required"),
        ("job_id=%FF%FE", CLOSE_BAD_REQUEST, "malformed"),
    ],
)
async def test_unknown_or_malformed_id_gets_error_and_close_code(query, code, reason):
    communicator = await _connect(f"/api/ws/jobs?{query}")
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "error"
    assert reason in message["error"]
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": code}


async def test_client_messages_are_ignored_not_fatal():
    job = await create_job(kind="random_text", params={"length": 5})
    communicator = await _connect(f"/api/ws/jobs?job_id={job.id}")
    await communicator.receive_json_from(timeout=5)
    await communicator.send_to(text_data="{not json")
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_foreign_browser_origin_is_refused():
    job = await create_job(kind="random_text", params={"length": 5})
    communicator = WebsocketCommunicator(
        application, f"/api/ws/jobs?job_id={job.id}", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_an_idle_socket_outlives_the_layers_blocking_read():
    # A socket with nothing to say for longer than a read from Redis may wait (5 s: the core
    # layer's blocking read, and redis-py 8's default socket timeout) must stay open and
    # still get the next change. The time spent idle is the point of this test.
    job = await create_job(kind="random_text", params={"length": 5})
    communicator = await _connect(f"/api/ws/jobs?job_id={job.id}")
    await communicator.receive_json_from(timeout=5)
    assert await communicator.receive_nothing(timeout=7)
    await database_sync_to_async(lifecycle.cancel_job)(job=job)
    assert (await communicator.receive_json_from(timeout=5))["status"] == JobStatus.CANCELLED
    await communicator.disconnect()
