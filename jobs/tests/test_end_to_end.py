"""The whole path over real sockets: Daphne and a worker as processes, HTTP in, WebSocket out."""

import asyncio
import json
import time
import urllib.request

import pytest
import websockets

from bespin.testing.processes import Processes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_system(tmp_path):
    processes = Processes(tmp_path)
    base = processes.web()
    processes.worker()
    yield base
    processes.stop_all()


async def _follow(base: str, length: int) -> tuple[list[dict], float]:
    started = time.perf_counter()
    request = urllib.request.Request(f"http://{base}/api/jobs/random-text?length={length}", method="POST")
    job = json.load(urllib.request.urlopen(request, timeout=5))
    messages = []
    async with websockets.connect(f"ws://{base}/api/ws/jobs?job_id={job['id']}") as ws:
        while not messages or messages[-1]["status"] not in ("completed", "failed"):
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=20)))
    return messages, time.perf_counter() - started


def test_job_travels_from_post_to_completed_on_a_real_websocket(live_system, capsys):
    timings = []
    for _ in range(11):  # the first warms the server's connections and imports up
        messages, elapsed = asyncio.run(_follow(live_system, 100))
        final = messages[-1]
        assert final["type"] == "job_status"
        assert final["status"] == "completed", final
        assert len(final["result"].split(" ")) == 100
        timings.append(elapsed * 1000)
    warm = sorted(timings[1:])
    with capsys.disabled():
        print(
            f"\nPOST -> completed on a WebSocket, 100 words: first {timings[0]:.1f} ms, "
            f"then median {warm[len(warm) // 2]:.1f} ms, max {warm[-1]:.1f} ms"
        )


def test_watcher_of_a_sleep_job_sees_it_run_with_progress_then_complete(live_system):
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
