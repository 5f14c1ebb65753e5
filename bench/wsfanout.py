"""One client process of the open-WebSockets measurement:
`python -m bench.wsfanout PORT IDS_FILE FIRST LAST`.

Opens one socket per job id in lines FIRST..LAST of IDS_FILE (each gets its job's status at
once), prints {"opened": …}, waits for a line "go" on stdin (the jobs are then cancelled
through the service layer), waits until every socket has received its final status or the
deadline passes, prints {"received": …}, and closes everything. Several run side by side,
since one process on one core could not keep up with thousands of handshakes.
"""

import asyncio
import json
import sys
import time
from collections import Counter

from websockets.asyncio.client import connect

from bench.stack import raise_open_files

CONNECT_CONCURRENCY = 64
# The update each socket waits for: bench.seedjobs cancels every job once all sockets are open
# (a job a worker took just before the suspension ends `completed` instead).
FINAL = ("cancelled", "completed", "failed")
OPEN_TIMEOUT = 30.0


async def main(port: int, job_ids: list[str], deadline_s: float) -> None:
    raise_open_files()
    semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)
    errors: Counter = Counter()

    async def open_one(job_id: str):
        async with semaphore:
            try:
                ws = await connect(
                    f"ws://127.0.0.1:{port}/api/ws/jobs?job_id={job_id}",
                    open_timeout=OPEN_TIMEOUT, ping_interval=None, close_timeout=2, max_queue=8,
                )  # fmt: skip
                first = json.loads(await asyncio.wait_for(ws.recv(), timeout=OPEN_TIMEOUT))
            except Exception as exc:  # noqa: BLE001 - counted and reported, never fatal
                status = getattr(getattr(exc, "response", None), "status_code", None)
                errors[type(exc).__name__ + (f" {status}" if status else "")] += 1
                return None
            if first.get("type") != "job_status":
                errors[f"first message {first.get('type')}"] += 1
            return ws

    started = time.perf_counter()
    sockets = [ws for ws in await asyncio.gather(*(open_one(job_id) for job_id in job_ids)) if ws]
    report(opened=len(sockets), failed=len(job_ids) - len(sockets), seconds=time.perf_counter() - started,
           errors=dict(errors))  # fmt: skip

    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        return await close_all(sockets)

    closed: Counter = Counter()

    async def follow(ws) -> bool:
        try:
            async for raw in ws:
                if json.loads(raw).get("status") in FINAL:
                    return True
        except Exception as exc:  # noqa: BLE001 - counted and reported
            closed[f"{type(exc).__name__} {ws.close_code}"] += 1
            return False
        closed[f"closed {ws.close_code}"] += 1
        return False

    started = time.perf_counter()
    tasks = [asyncio.ensure_future(follow(ws)) for ws in sockets]
    done, pending = await asyncio.wait(tasks, timeout=deadline_s) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    received = sum(1 for task in done if not task.cancelled() and task.exception() is None and task.result())
    report(received=received, waited=len(sockets), seconds=time.perf_counter() - started, closed=dict(closed))
    await close_all(sockets)


async def close_all(sockets) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def report(**fields) -> None:
    print(json.dumps(fields), flush=True)


if __name__ == "__main__":
    port, ids_file, first, last, deadline = sys.argv[1:6]
    ids = open(ids_file).read().split()[int(first) : int(last)]
    try:
        from uvloop import run
    except ImportError:
        from asyncio import run
    run(main(int(port), ids, float(deadline)))
