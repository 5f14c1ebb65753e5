"""Completion callbacks delivered per second, 2 workers, to a local receiver (`make bench`).

    python -m bench.callbacks receive PORT   # the receiver: answers 204 at once, keep-alive
    python -m bench.callbacks user           # a signed-in user and API token (printed as JSON)

N jobs with a `callback_url` are created over the API by that user with its token, workers
suspended, then all cancelled in one UPDATE: the trigger makes N callbacks due in that one
transaction, and the workers' senders (which RQ's suspension does not stop) send them. The
rate is from that commit to the last callback delivered, as PostgreSQL records them. Ending
the jobs by running them would measure the workers' job throughput instead (docs/BENCHMARKS.md).
"""

import asyncio
import json
import socket
import subprocess
import sys
import time

from bench.client import HttpConnection, closed_loop, percentile
from bench.stack import ROOT, Stack, free_port

HOST = "127.0.0.1"
# The callbacks of the jobs the bulk UPDATE ended (each worker may have run one job before
# the suspension took hold; those completed).
ENDED_TOGETHER = "job_status = 'cancelled'"


# The receiver: as little as a keep-alive HTTP/1.1 server can do, so that it is not what is measured.


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def receive(port: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_serve, HOST, port, backlog=1024)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def make_user() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bespin.settings")
    django.setup()
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user, _ = User.objects.get_or_create(username="bench-callbacks")
    token, _ = Token.objects.get_or_create(user=user)
    print(json.dumps({"token": token.key}))


# The measurement, run by run.py against the Stack


def _wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the callback receiver did not listen on {port}")


async def _create_jobs(port: int, token: str, url: str, *, jobs: int, clients: int, time_limit: float):
    auth = [("Authorization", f"Token {token}")]
    connection = HttpConnection(HOST, port)
    status, body = await connection.request("POST", "/api/me/callback-secret", b"", auth)
    connection.close()
    if status not in (200, 201):
        raise RuntimeError(f"POST /api/me/callback-secret answered {status}: {body[:200]!r}")
    payload = json.dumps({"type": "random_text", "params": {"length": 10}, "callback_url": url}).encode()
    headers = [*auth, ("Content-Type", "application/json")]
    return await closed_loop(
        HOST, port, clients=clients, total=jobs, time_limit=time_limit,
        make_request=lambda i: ("POST", "/api/jobs", payload, headers),
    )  # fmt: skip


def callback_rate(stack: Stack, port: int, *, jobs: int, clients: int, load_seconds: float, time_limit: float) -> dict:
    """Run with the workers suspended (measure.WorkersSuspended), which also empties the jobs
    table (and the callbacks with it) afterwards."""
    from bench.measure import CpuMeter, run_async

    receiver_port = free_port()
    stack.start("callback-receiver", [sys.executable, "-m", "bench.callbacks", "receive", str(receiver_port)])
    _wait_for_port(receiver_port)
    made = subprocess.run(
        [sys.executable, "-m", "bench.callbacks", "user"], cwd=ROOT, env=stack.env(), capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    token = json.loads(made.stdout.strip().splitlines()[-1])["token"]
    url = f"http://{HOST}:{receiver_port}/bespin-callback"
    load = run_async(_create_jobs(port, token, url, jobs=jobs, clients=clients, time_limit=load_seconds))
    with stack.db() as db:
        meter = CpuMeter(stack).start()
        ended_at, due = db.execute(
            "WITH ended AS (UPDATE jobs_job SET status = 'cancelled', finished_at = now() "
            "WHERE status = 'pending' AND callback_url <> '' RETURNING finished_at) "
            "SELECT max(finished_at), count(*) FROM ended"
        ).fetchone()
        deadline = time.monotonic() + time_limit
        while True:
            delivered, last, failed = db.execute(
                "SELECT count(*) FILTER (WHERE state = 'delivered'), max(finished_at), "
                "count(*) FILTER (WHERE state <> 'pending' AND state <> 'delivered') FROM callbacks_callbackdelivery "
                f"WHERE {ENDED_TOGETHER}"
            ).fetchone()
            if delivered + failed >= due or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        cpu = meter.stop()
        latencies = [
            seconds for (seconds,) in db.execute(
                "SELECT extract(epoch FROM finished_at - created_at) FROM callbacks_callbackdelivery "
                f"WHERE state = 'delivered' AND {ENDED_TOGETHER}"
            ).fetchall()
        ]  # fmt: skip
        attempts = db.execute(
            "SELECT count(*) FROM callbacks_callbackattempt WHERE delivery_id IN "
            f"(SELECT id FROM callbacks_callbackdelivery WHERE {ENDED_TOGETHER})"
        ).fetchone()[0]
    stack.stop_process("callback-receiver")
    span = (last - ended_at).total_seconds() if last and ended_at else float("nan")
    return {
        "created": load.ok(),
        "statuses": dict(load.statuses),
        "due": due,
        "delivered": delivered,
        "not_delivered": due - delivered,
        "attempts": attempts,
        "seconds": span,
        "rate": delivered / span if span and span == span and span > 0 else 0.0,
        "p50_ms": percentile([float(s) for s in latencies], 0.5) * 1000,
        "p99_ms": percentile([float(s) for s in latencies], 0.99) * 1000,
        "worker_cpu_ms": cpu["cpu"].get("Bespin workers", 0.0) * 1000 / max(delivered, 1),
        "cpu": cpu,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["receive"]:
        receive(int(sys.argv[2]))
    elif sys.argv[1:2] == ["user"]:
        make_user()
    else:
        sys.exit(__doc__)
