"""The whole path over real sockets: Daphne and a worker as processes, HTTP in, WebSocket out."""

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

from conftest import ROOT, process_env

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_system(tmp_path):
    port = _free_port()
    env = process_env()
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "bespin.asgi:application"],
        "worker": [sys.executable, "manage.py", "rqworker", "default"],
    }
    processes = {}
    for name, command in commands.items():
        log = open(tmp_path / f"{name}.log", "wb")
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://{base}/api/test", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes.values()):
                pytest.fail("Daphne did not start:\n" + (tmp_path / "web.log").read_text())
            time.sleep(0.2)
    yield base
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        process.wait(timeout=10)


async def _follow(base: str, length: int) -> tuple[list[dict], float]:
    started = time.perf_counter()
    request = urllib.request.Request(f"http://{base}/api/jobs/random-text?length={length}", method="POST")
    job = json.load(urllib.request.urlopen(request, timeout=5))
    messages = []
    async with websockets.connect(f"ws://{base}/api/ws/jobs?job_id={job['id']}") as ws:
        while not messages or messages[-1]["status"] not in ("completed", "failed"):
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=20)))
    return messages, time.perf_counter() - started


def test_job_travels_from_post_to_completed_on_a_real_websocket(live_system):
    messages, elapsed = asyncio.run(_follow(live_system, 100))
    final = messages[-1]
    assert final["type"] == "job_status"
    assert final["status"] == "completed", final
    assert len(final["result"].split(" ")) == 100
    print(f"POST -> completed on the WebSocket: {elapsed * 1000:.1f} ms")


def test_watcher_connected_before_the_run_sees_running_then_completed(live_system):
    async def scenario():
        request = urllib.request.Request(
            f"http://{live_system}/api/jobs", method="POST",
            data=json.dumps({"type": "sleep", "params": {"seconds": 1}}).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        job = json.load(urllib.request.urlopen(request, timeout=5))
        seen = []
        async with websockets.connect(f"ws://{live_system}/api/ws?job_id={job['id']}") as ws:
            while not seen or seen[-1]["status"] != "completed":
                seen.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=20)))
        return seen

    seen = asyncio.run(scenario())
    statuses = [m["status"] for m in seen]
    assert "running" in statuses and statuses[-1] == "completed"
    assert any(0 < m["progress"] < 100 for m in seen if m["status"] == "running")
