"""Measure webhook ingestion: signed deliveries per second from concurrent senders.

    DATABASE_URL=postgres:///bespin_bench SECRET_KEY=x REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python -m webhooks.bench_ingest --requests 5000 --concurrency 10

It migrates DATABASE_URL, starts Daphne on a free port with one source `bench` defined by
`BENCH_WEBHOOK_SECRET` (and no rate limit), fires `--requests` deliveries, each a distinct
body signed with the default scheme, from `--concurrency` keep-alive connections, and prints
the rate of 2xx answers. With `--url URL --secret S` it only sends, to a server already running.

The senders are plain asyncio sockets with bodies signed before the clock starts, so that
the client spends as little as possible of the CPU it shares with the server.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "bench"
SECRET = "bench-secret-not-for-production"


def _signed_requests(path: str, host: str, secret: str, count: int, run: str) -> list[bytes]:
    requests = []
    for number in range(count):
        body = json.dumps({"event": "bench.delivery", "run": run, "n": number}).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Webhook-Signature: sha256={signature}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _sender(host: str, port: int, requests: list[bytes], statuses: Counter, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            started = time.perf_counter()
            writer.write(request)
            statuses[await _read_response(reader)] += 1
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def fire(url: str, secret: str, count: int, concurrency: int) -> dict:
    parts = urlsplit(url)
    requests = _signed_requests(parts.path, parts.netloc, secret, count, run=os.urandom(6).hex())
    shares = [requests[i::concurrency] for i in range(concurrency)]
    statuses: Counter = Counter()
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(_sender(parts.hostname, parts.port, share, statuses, latencies) for share in shares))
    elapsed = time.perf_counter() - started
    latencies.sort()
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return {
        "requests": count,
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "accepted_per_second": round(ok / elapsed, 1),
        "statuses": dict(statuses),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 2),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    daphne = Path(sys.executable).parent / "daphne"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(daphne), "-b", "127.0.0.1", "-p", str(port), "bespin.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/test", timeout=1).read()
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("Daphne did not start:\n" + log_path.read_text()) from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=500, help="deliveries sent before the measured run")
    parser.add_argument("--url", help="send to this running server instead of starting Daphne")
    parser.add_argument("--secret", default=SECRET, help="with --url: the source's secret")
    args = parser.parse_args()

    if args.url:
        if args.warmup:
            asyncio.run(fire(args.url, args.secret, args.warmup, args.concurrency))
        print(json.dumps(asyncio.run(fire(args.url, args.secret, args.requests, args.concurrency))))
        return

    env = {
        **os.environ,
        "BENCH_WEBHOOK_SECRET": SECRET,
        "BESPIN_WEBHOOK_RATE_PER_MINUTE": "0",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    process = _serve(env, port, Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-ingest-{port}.log")
    try:
        url = f"http://127.0.0.1:{port}/api/webhooks/{SOURCE}"
        if args.warmup:
            asyncio.run(fire(url, SECRET, args.warmup, args.concurrency))
        print(json.dumps(asyncio.run(fire(url, SECRET, args.requests, args.concurrency))))
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
