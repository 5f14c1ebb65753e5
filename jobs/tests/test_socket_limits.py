"""WebSockets on a real server, started as `./run.sh serve` starts it: a client's message
past BESPIN_WS_MAX_MESSAGE_BYTES closes its socket instead of being buffered whole;
at most BESPIN_WS_MAX_PER_ADDRESS sockets are open at once per address; and a stream of a
user's, a team's or the site's jobs closes when its session signs out, or once its user has
lost access (checked again every BESPIN_WS_RECHECK_SECONDS)."""

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bespin.server import wslimit
from bespin.testing.processes import wait_for
from jobs.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)

# What the servers this module starts run with (the `processes` fixture).
PROCESS_ENV = {"BESPIN_WS_MAX_PER_ADDRESS": "3", "BESPIN_WS_RECHECK_SECONDS": "1", "LOG_LEVEL": "WARNING"}
CLOSE_TOO_BIG = 1009
CLOSE_TOO_MANY = 4429


def _watch_one(base: str):
    """A socket watching a job of its own: it stays open."""
    job = creation.create_job(kind="sleep", params={"seconds": 1})
    ws = connect(f"ws://{base}/api/ws/jobs?job_id={job.id}", open_timeout=20)
    assert "job_status" in ws.recv(timeout=20)
    return ws


def _signed_in_cookie(user) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _stream(base: str, cookie: str, query: str = ""):
    return connect(f"ws://{base}/api/ws/jobs{query}", additional_headers={"Cookie": cookie}, open_timeout=20)


def _closed_with(ws, timeout: float = 20) -> int:
    """The code the server closed `ws` with, reading (and dropping) messages until it does."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        raise AssertionError("the socket stayed open") from None


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_a_message_past_the_limit_closes_its_socket(processes, server):
    base = processes.web(server=server)
    with _watch_one(base) as ws:
        ws.send("x" * 4000)  # within the limit: ignored, the socket stays
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)
        ws.send("x" * 5000)
        # Closed: uvicorn says 1009, Daphne drops the connection without a close frame.
        assert _closed_with(ws) in (CLOSE_TOO_BIG, None)


def test_sockets_per_address_are_capped(processes, owner, redis_conn):
    base = processes.web()
    # Sockets that stay open: the caller's own stream.
    _, cookie = _signed_in_cookie(owner)
    first = [_stream(base, cookie) for _ in range(3)]
    try:
        with _stream(base, cookie) as refused:
            assert "at most 3 WebSockets" in refused.recv(timeout=20)
            assert _closed_with(refused) == CLOSE_TOO_MANY
        first.pop().close()
        wait_for(lambda: redis_conn.zcard(f"{wslimit.KEY_PREFIX}127.0.0.1") == 2, 20, message="the slot to free")
        with _stream(base, cookie) as again:
            with pytest.raises(TimeoutError):
                again.recv(timeout=1)
    finally:
        for ws in first:
            ws.close()


def test_signing_out_closes_the_sessions_streams(processes, owner):
    # No recheck within the test: only the sign-out's own message can close the stream.
    processes.env["BESPIN_WS_RECHECK_SECONDS"] = "3600"
    base = processes.web()
    client, cookie = _signed_in_cookie(owner)
    _, other_cookie = _signed_in_cookie(owner)  # another session of the same user
    with _stream(base, cookie) as mine, _stream(base, other_cookie) as elsewhere:
        client.logout()  # sends Django's user_logged_out, as the dashboard's sign-out does
        assert _closed_with(mine) == CLOSE_UNAUTHENTICATED
        job = creation.create_job(kind="random_text", params={}, owner=owner)
        assert f'"job_id": "{job.id}"' in elsewhere.recv(timeout=20)  # the other session goes on


def test_a_team_stream_closes_once_its_user_leaves_the_team(processes, owner, teammate, team):
    base = processes.web()
    _, cookie = _signed_in_cookie(teammate)
    with _stream(base, cookie, f"?team={team.name}") as ws:
        creation.create_job(kind="random_text", params={}, owner=owner)
        assert "job_status" in ws.recv(timeout=20)
        teammate.groups.remove(team)
        assert _closed_with(ws) == CLOSE_FORBIDDEN


def test_a_team_stream_follows_new_members(processes, owner, stranger, team):
    base = processes.web()
    _, cookie = _signed_in_cookie(owner)
    with _stream(base, cookie, f"?team={team.name}") as ws:
        stranger.groups.add(team)
        # Checked again each second: once the stream has caught up, their jobs come too.
        for _ in range(60):
            job = creation.create_job(kind="random_text", params={}, owner=stranger)
            try:
                if str(job.id) in ws.recv(timeout=0.5):
                    break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the new member's jobs never came")


def test_the_site_stream_closes_once_its_user_is_no_longer_staff(processes, staff):
    base = processes.web()
    _, cookie = _signed_in_cookie(staff)
    with _stream(base, cookie, "?scope=site") as ws:
        staff.is_staff = False
        staff.save(update_fields=["is_staff"])
        assert _closed_with(ws) == CLOSE_FORBIDDEN


def test_a_stream_whose_session_ended_elsewhere_closes(processes, owner):
    base = processes.web()
    client, cookie = _signed_in_cookie(owner)
    with _stream(base, cookie) as ws:
        client.session.flush()  # the session deleted without a sign-out: expired, say
        assert _closed_with(ws) == CLOSE_UNAUTHENTICATED
