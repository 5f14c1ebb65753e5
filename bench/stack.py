"""The system under test: a scratch PostgreSQL database, a spare Redis database, Daphne
(and uvicorn), Bespin workers and plain RQ workers, each a process of its own.

Everything is stopped by `Stack.stop()`, which run.py calls in a `finally`, so a failure or
Ctrl-C leaves nothing behind; the children also get SIGTERM if this process dies (PDEATHSIG).
"""

import ctypes
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCRATCH_DB = "bespin_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
# A second spare database for the query-count probe, so its enqueue reaches no worker.
PROBE_REDIS_DB = 13
WEBHOOK_SOURCE = "bench"
WEBHOOK_SECRET = "bench-webhook-secret-not-for-production"
OPEN_FILES = 20_000  # the hard limit here; 10,000 WebSockets need 10,000 descriptors and change

_PR_SET_PDEATHSIG = 1


def raise_open_files(limit: int = OPEN_FILES) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _child_setup() -> None:
    raise_open_files()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_db(url: str, name: str) -> str:
    """`url` with its path (the database) replaced; keeps an empty host (`postgres:///x`)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{parts.query}" if parts.query else "")


class Stack:
    def __init__(self, *, redis_url: str = DEFAULT_REDIS_URL, keep_logs: bool = False):
        self.server_url = os.environ.get("DATABASE_URL", "postgres:///bespin")
        self.database_url = with_db(self.server_url, SCRATCH_DB)
        self.redis_url = redis_url
        self.redis = Redis.from_url(redis_url)
        db = self.redis.connection_pool.connection_kwargs.get("db", 0)
        if db in (0, PROBE_REDIS_DB):
            raise SystemExit(
                f"the benchmark flushes Redis database {db}: use a spare one (default {DEFAULT_REDIS_URL})"
            )
        self.probe_redis_url = with_db(redis_url, str(PROBE_REDIS_DB))
        self.logs = Path(tempfile.mkdtemp(prefix="bespin-bench-"))
        self.keep_logs = keep_logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    # Environment and storage

    def env(self, **extra) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "bespin-bench-only",
            "DEBUG": "0",
            # The load is anonymous and from one address: no rate, no cap on unfinished jobs.
            "BESPIN_THROTTLE_ANON": "",
            "BESPIN_ANON_MAX_UNFINISHED": "0",
            # The callbacks figure: a signed-in user creates the jobs, to a receiver on 127.0.0.1.
            "BESPIN_THROTTLE_USER": "",
            "BESPIN_CALLBACK_ALLOW_PRIVATE": "1",
            # That one user's callbacks in flight are capped as usual (the claim counts them), at
            # a cap the senders of two workers never reach: the figure is sending, not the cap.
            "BESPIN_CALLBACK_OWNER_IN_FLIGHT": "1000",
            # The sockets figure opens 10,000 from one address: each counted, none refused.
            "BESPIN_WS_MAX_PER_ADDRESS": "20000",
            "BESPIN_METRICS_TOKEN": "bench-metrics-token",
            # The ingestion figure measures storing deliveries, not the per-source limiter.
            "BESPIN_WEBHOOK_RATE_PER_MINUTE": "0",
            f"{WEBHOOK_SOURCE.upper()}_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PYTHONPATH": str(ROOT),
            **extra,
        }

    def admin_sql(self, sql: str) -> None:
        with psycopg.connect(with_db(self.server_url, "postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True)

    def prepare_storage(self) -> None:
        """A new scratch database, migrated; the spare Redis databases emptied."""
        self.admin_sql(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
        self.admin_sql(f"CREATE DATABASE {SCRATCH_DB}")
        self.run_manage("migrate", "--noinput", "-v0")
        self.redis.flushdb()
        Redis.from_url(self.probe_redis_url).flushdb()

    def drop_storage(self) -> None:
        try:
            self.admin_sql(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
        except psycopg.Error as exc:
            print(f"could not drop {SCRATCH_DB}: {exc}", file=sys.stderr)
        self.redis.flushdb()

    def run_manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), check=True, timeout=120)

    # Processes

    def start(self, name: str, command: list[str], **env) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_child_setup,
        )  # fmt: skip
        self.processes[name] = process
        return process

    def start_daphne(self, name: str = "daphne", **env) -> int:
        port = self.ports[name] = free_port()
        self.start(name, [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "bespin.asgi:application"], **env)
        return port

    def start_uvicorn(self, name: str = "uvicorn") -> int:
        port = self.ports[name] = free_port()
        command = [
            str(BIN / "uvicorn"), "bespin.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--ws", "websockets", "--lifespan", "off",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        self.start(name, command)
        return port

    def start_bespin_workers(self, count: int) -> None:
        for i in range(count):
            self.start(f"worker-{i}", [sys.executable, "manage.py", "rqworker", "default"])

    def start_raw_workers(self, count: int, queue: str) -> None:
        for i in range(count):
            command = [
                str(BIN / "rq"), "worker", "--url", self.redis_url,
                "--worker-class", "rq.worker.SimpleWorker", queue,
            ]  # fmt: skip
            self.start(f"raw-{i}", command)

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def names(self, prefix: str) -> list[str]:
        return [name for name in self.processes if name.startswith(prefix)]

    def wait_ready(self, *, http: list[str], queues: dict[str, int], timeout: float = 60) -> None:
        """Until every server answers GET /api/test and each queue has its workers."""
        from rq import Queue, Worker

        deadline = time.monotonic() + timeout
        pending_http = list(http)
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")
            for name in list(pending_http):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/api/test", timeout=2).read()
                    pending_http.remove(name)
                except OSError:
                    pass
            counts = {q: Worker.count(connection=self.redis, queue=Queue(q, connection=self.redis)) for q in queues}
            if not pending_http and all(counts[q] >= n for q, n in queues.items()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout:.0f} s: servers {pending_http}, workers {counts}")
            time.sleep(0.2)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_process(self, name: str, timeout: float = 15) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def stop(self) -> None:
        for name in list(self.processes):
            if self.processes[name].poll() is None:
                self.processes[name].terminate()
        for name in list(self.processes):
            self.stop_process(name)
        if not self.keep_logs:
            shutil.rmtree(self.logs, ignore_errors=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK
