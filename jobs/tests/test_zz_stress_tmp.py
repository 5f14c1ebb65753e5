import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from bespin.asgi import application
from jobs import events, lifecycle
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

N = range(40)


def _listen_during(group, action):
    received, ready = [], threading.Event()

    async def listen():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        ready.set()
        try:
            while True:
                received.append((await asyncio.wait_for(layer.receive(channel), timeout=2))["message"])
        except TimeoutError:
            pass

    listener = threading.Thread(target=asyncio.run, args=(listen(),))
    listener.start()
    ready.wait(5)
    action()
    listener.join(10)
    assert not listener.is_alive(), "listener still alive"
    return received


@pytest.mark.parametrize("i", N)
async def test_async_ws(i):
    job = await database_sync_to_async(lifecycle.create_job)(kind="random_text", params={"length": 5})
    communicator = WebsocketCommunicator(application, f"/api/ws/jobs?job_id={job.id}")
    assert (await communicator.connect())[0]
    await communicator.receive_json_from(timeout=5)
    if i % 2:
        await database_sync_to_async(lifecycle.cancel_job)(job=job)
        await communicator.receive_json_from(timeout=5)
    if i % 3:
        await communicator.disconnect()


@pytest.mark.parametrize("i", N)
def test_sync_listen(i):
    job = lifecycle.create_job(kind="random_text", params={"length": 5})
    msgs = _listen_during(events.job_group(job.id), lambda: lifecycle.cancel_job(job=Job.objects.get(id=job.id)))
    assert [m["status"] for m in msgs] == ["cancelled"]
