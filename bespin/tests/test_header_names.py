"""A header name with an underscore never stands in for its dashed twin, under either server
`./run.sh serve` starts: behind a proxy that appends the client's address to X-Forwarded-For,
a client's own `X_Forwarded_For` must not pick the address its limits count against."""

import http.client
import json

import pytest

from bespin.testing.processes import Processes
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_an_underscored_forwarded_for_header_is_dropped(tmp_path, server):
    processes = Processes(tmp_path, BESPIN_NUM_PROXIES="1", BESPIN_ANON_MAX_UNFINISHED="1", LOG_LEVEL="WARNING")
    try:
        host, port = processes.web(server=server).split(":")
        statuses = [_post(host, int(port), spoofed=f"198.51.100.{n}") for n in range(3)]
    finally:
        processes.stop_all()
    # One client (the address the proxy saw), one slot: the made-up addresses change nothing.
    assert statuses == [201, 429, 429]
    assert list(Job.objects.values_list("client", flat=True)) == ["ip:203.0.113.9"]


def _post(host: str, port: int, spoofed: str) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        body = json.dumps({"type": "sleep", "params": {"seconds": 1}})
        connection.putrequest("POST", "/api/jobs")
        # What the proxy appended, then the client's own header under an underscored name.
        for name, value in (("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("X-Forwarded-For", "203.0.113.9"), ("X_Forwarded_For", spoofed)):  # fmt: skip
            connection.putheader(name, value)
        connection.endheaders(body.encode())
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
