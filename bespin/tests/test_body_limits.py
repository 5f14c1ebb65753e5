"""No request makes the server hold more than its body limit: several hundred MB sent to a
real Daphne process, chunked or with a Content-Length, is refused with 413 once it passes
the limit, and the server's memory does not grow with it."""

import json
import socket
from pathlib import Path

import pytest

from bespin.testing.processes import Processes
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024
SENT_AT_MOST = 400 * MIB
# Daphne's own memory moves by a few MB as it serves; a buffered body would move it by hundreds.
RSS_GROWTH_ALLOWED = 32 * MIB
WEBHOOK_LIMIT = 4096


@pytest.fixture(scope="module")
def daphne(django_db_setup, tmp_path_factory):
    processes = Processes(
        tmp_path_factory.mktemp("limits"), ACME_WEBHOOK_SECRET="acme-secret",
        BESPIN_WEBHOOK_MAX_BYTES=str(WEBHOOK_LIMIT), LOG_LEVEL="WARNING",
    )  # fmt: skip
    host, port = processes.web().split(":")
    yield host, int(port), processes.running[-1].pid
    processes.stop_all()


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class _Upload:
    """Sends a huge body on a raw socket and samples the server's RSS meanwhile. The server
    must answer before the body ends: after the first few MB the upload waits for its answer,
    then sends the rest, which the server drops unread until it cuts the connection."""

    FIRST = 4 * MIB

    def __init__(self, host: str, port: int, pid: int):
        self.address, self.pid = (host, port), pid
        self.peak_rss = 0

    def send(self, path: str, *, chunked: bool) -> tuple[int, dict]:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {SENT_AT_MOST}"
        head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
        piece = b"x" * MIB
        if chunked:
            piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        with socket.create_connection(self.address, timeout=10) as sock:
            sock.sendall(head.encode())
            sent = 0
            try:
                while sent < self.FIRST:
                    sock.sendall(piece)
                    sent += MIB
            except OSError:
                pass  # answered and closed already
            answer = _recv(sock)  # waits for the answer: the body is far from over
            assert answer.startswith(b"HTTP/1.1 "), "no answer while the body was still coming"
            try:
                while sent < SENT_AT_MOST:
                    sock.sendall(piece)
                    sent += MIB
                    self.peak_rss = max(self.peak_rss, _rss(self.pid))
            except OSError:
                pass  # the server cut the connection: the rest is refused unread
            while chunk := _recv(sock):
                answer += chunk
        status_line, _, rest = answer.partition(b"\r\n")
        return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_huge_body_to_the_api_is_413_and_never_held(daphne, chunked):
    host, port, pid = daphne
    before = _rss(pid)
    upload = _Upload(host, port, pid)
    status, answer = upload.send("/api/jobs", chunked=chunked)
    assert status == 413
    assert "BESPIN_MAX_BODY_BYTES" in answer["error"]
    assert max(upload.peak_rss, _rss(pid)) - before < RSS_GROWTH_ALLOWED
    assert not Job.objects.exists()


def test_a_huge_chunked_delivery_is_413_counted_against_its_source(daphne):
    from bespin.testing.processes import wait_for
    from webhooks.selectors import rejection_counts

    host, port, pid = daphne
    before = _rss(pid)
    upload = _Upload(host, port, pid)
    status, answer = upload.send("/api/webhooks/acme", chunked=True)
    assert status == 413
    assert f"limit of {WEBHOOK_LIMIT} bytes" in answer["error"]
    assert max(upload.peak_rss, _rss(pid)) - before < RSS_GROWTH_ALLOWED
    wait_for(lambda: rejection_counts("acme") == {"too_large": 1}, 10, message="the rejection to be counted")


def test_a_body_within_the_limit_still_creates_its_job(daphne):
    host, port, _ = daphne
    # Padded with white space, which JSON allows anywhere between its tokens.
    body = json.dumps({"type": "sleep", "params": {"seconds": 1}}).encode() + b" " * 200_000
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            f"POST /api/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        answer = b""
        while chunk := _recv(sock):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
