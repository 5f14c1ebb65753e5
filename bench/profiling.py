"""py-spy around a measurement, and a plain-text summary of what it saw.

`py-spy record --format raw` writes collapsed stacks ("frame;frame;… count"), which
speedscope and flamegraph.pl read as they are; `summarize()` turns them into the numbers
docs/BENCHMARKS.md quotes: busy samples per request or job, time by component (the
innermost frame that belongs to a known library), and the heaviest functions.
"""

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"
RATE = 200  # samples per second per thread

# Innermost matching frame wins: a stack ending in json/ under DRF's renderer counts as JSON.
COMPONENTS = [
    ("JSON encode/decode", ("json/", "orjson")),
    ("logging", ("logging/",)),
    ("psycopg + pool (queries, health checks)", ("psycopg/", "psycopg_pool/")),
    ("Django ORM (query building, model init)", ("django/db/",)),
    ("channels-redis (group_send/add, layer)", ("channels_redis/", "msgpack")),
    ("redis-py (RQ enqueue, worker bookkeeping)", ("redis/",)),
    ("RQ", ("rq/",)),
    ("DRF (view, serializer, renderer)", ("rest_framework/",)),
    ("Django request handling + middleware", ("django/core/", "django/middleware/", "django/contrib/", "django/http/")),
    ("Django other (urls, utils, dispatch)", ("django/",)),
    ("Channels", ("channels/",)),
    ("asgiref sync<->async hops", ("asgiref/",)),
    ("Daphne / Twisted / autobahn (HTTP, WebSocket)", ("daphne/", "twisted/", "autobahn/", "txaio/")),
    ("uvicorn / httptools / uvloop", ("uvicorn/", "httptools", "uvloop")),
    ("asyncio event loop", ("asyncio/",)),
    ("threading / queues", ("threading.py", "queue.py", "concurrent/")),
    ("Bespin code (jobs/, bespin/)", ("jobs/", "bespin/")),
]


class Recorder:
    """`with Recorder(pid, path):` samples that process for the duration of the block."""

    def __init__(self, pid: int, path: Path):
        self.pid, self.path = pid, path
        self.process: subprocess.Popen | None = None

    def __enter__(self):
        command = [str(PY_SPY), "record", "--pid", str(self.pid), "--format", "raw", "--output", str(self.path),
                   "--rate", str(RATE), "--nolineno", "--threads", "--gil"]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return False

    @property
    def error(self) -> str:
        if self.process is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")[-500:]


def _stacks(path: Path):
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def _component(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in COMPONENTS:
            if any(marker in frame for marker in markers):
                return name
    return "other"


def summarize(path: Path, *, per: int, unit: str, top: int = 18) -> str:
    """Text summary of one raw profile; `per` requests or jobs were served while it ran."""
    if not path.exists():
        return f"(no profile at {path})"
    total = 0
    threads: Counter = Counter()
    components: Counter = Counter()
    inclusive: Counter = Counter()
    own: Counter = Counter()
    for frames, count in _stacks(path):
        total += count
        thread, body = frames[0], frames[1:]
        threads[thread] += count
        components[_component(body)] += count
        own[body[-1] if body else thread] += count
        for frame in set(body):
            inclusive[frame] += count
    if not total:
        return "(no samples)"
    ms = 1000 / RATE
    lines = [
        f"{total} busy samples at {RATE}/s = {total * ms / 1000:.2f} s of busy thread time, "
        f"{total * ms / max(per, 1):.2f} ms per {unit} ({per} {unit}s)",
        "",
        "by thread:",
        *(f"  {count * 100 / total:5.1f}%  {name}" for name, count in threads.most_common(6)),
        "",
        "by component (innermost known frame):",
        *(
            f"  {count * 100 / total:5.1f}%  {count * ms / max(per, 1):6.3f} ms/{unit}  {name}"
            for name, count in components.most_common()
        ),
        "",
        "heaviest functions, inclusive:",
        *[
            f"  {count * 100 / total:5.1f}%  {name}"
            for name, count in inclusive.most_common(top * 3)
            if not _boring(name)
        ][: top + 5],
        "",
        "heaviest functions, own time:",
        *(f"  {count * 100 / total:5.1f}%  {name}" for name, count in own.most_common(top)),
    ]
    return "\n".join(lines)


def _boring(frame: str) -> bool:
    """Frames at the root of every stack say nothing about where the time goes."""
    return any(
        marker in frame
        for marker in ("<module>", "_bootstrap", "run_forever", "_run_once", "(threading.py)", "main (", "run (")
    )
