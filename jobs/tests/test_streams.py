"""WebSocket streams beyond one job: the caller's own jobs, a team's, and the whole site."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from bespin.asgi import application
from jobs.consumers import CLOSE_BAD_REQUEST, CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)
create_job = database_sync_to_async(creation.create_job)


@database_sync_to_async
def _cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def _open(path: str, user=None) -> WebsocketCommunicator:
    headers = [(b"cookie", await _cookie_for(user))] if user else []
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _refused(communicator: WebsocketCommunicator, code: int) -> None:
    assert (await communicator.receive_json_from(timeout=5))["type"] == "error"
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": code}


async def _nothing_more(communicator: WebsocketCommunicator) -> None:
    if not await communicator.receive_nothing(timeout=0.3):
        raise AssertionError(f"unexpected message: {await communicator.receive_json_from()}")


async def _statuses_for(communicator: WebsocketCommunicator, job) -> list[str]:
    message = await communicator.receive_json_from(timeout=5)
    assert message["job_id"] == str(job.id)
    return message["status"]


async def test_own_stream_gets_own_jobs_only(owner, stranger):
    communicator = await _open("/api/ws/jobs", owner)
    await create_job(kind="random_text", params={}, owner=stranger)
    mine = await create_job(kind="random_text", params={}, owner=owner)
    assert await _statuses_for(communicator, mine) == "pending"  # the stranger's, sent first, never came
    await _nothing_more(communicator)
    await communicator.disconnect()


async def test_team_stream_reaches_a_teammate(owner, teammate):
    communicator = await _open("/api/ws/jobs?team=platform", teammate)
    job = await create_job(kind="random_text", params={}, owner=owner)
    assert await _statuses_for(communicator, job) == "pending"
    await communicator.disconnect()


async def test_team_stream_leaves_out_jobs_of_non_members(teammate, stranger, owner):
    communicator = await _open("/api/ws/jobs?team=platform", teammate)
    await create_job(kind="random_text", params={}, owner=stranger)
    mine = await create_job(kind="random_text", params={}, owner=owner)
    assert await _statuses_for(communicator, mine) == "pending"
    await communicator.disconnect()


async def test_malformed_team_name_is_refused(owner):
    await _refused(await _open("/api/ws/jobs?team=%00", owner), CLOSE_BAD_REQUEST)


async def test_team_stream_refuses_a_stranger(stranger):
    await _refused(await _open("/api/ws/jobs?team=platform", stranger), CLOSE_FORBIDDEN)


async def test_team_stream_refuses_an_unknown_team(owner):
    await _refused(await _open("/api/ws/jobs?team=nobody", owner), CLOSE_FORBIDDEN)


async def test_site_stream_is_for_staff(staff, owner, stranger):
    communicator = await _open("/api/ws/jobs?scope=site", staff)
    job = await create_job(kind="random_text", params={}, owner=stranger)
    assert await _statuses_for(communicator, job) == "pending"
    anonymous = await create_job(kind="random_text", params={})
    assert await _statuses_for(communicator, anonymous) == "pending"
    await communicator.disconnect()
    await _refused(await _open("/api/ws/jobs?scope=site", owner), CLOSE_FORBIDDEN)


async def test_unknown_scope_is_refused(staff):
    await _refused(await _open("/api/ws/jobs?scope=galaxy", staff), CLOSE_BAD_REQUEST)


@pytest.mark.parametrize("path", ["/api/ws/jobs", "/api/ws", "/api/ws/jobs?team=platform", "/api/ws?scope=site"])
async def test_streams_refuse_anonymous_callers(path):
    await _refused(await _open(path), CLOSE_UNAUTHENTICATED)
