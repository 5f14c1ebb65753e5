"""Bespin processes for tests that need the real thing: Daphne, workers, a Redis of their own."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection
from redis import Redis

from jobs.execution import heartbeats

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_tests() -> str:
    """DATABASE_URL of pytest-django's test database, for processes the tests start."""
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres:///bespin"))
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def process_env(**extra) -> dict:
    """The environment for a Bespin process started by a test: the test database and Redis."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": "bespin-tests-only",
        "DEBUG": "0",
        "BESPIN_THROTTLE_ANON": "",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A process that has not exited this long after SIGTERM is killed. Daphne and an idle worker
# exit well within it. Daphne does not when an application instance ignores the cancellation it sends
# at shutdown: on Python 3.11 redis-py's asyncio.wait_for swallows a cancellation that lands
# just as a command completes (python/cpython#86296). With channels_redis's core layer, a
# consumer whose client left just as it began its next read of the layer did so about every
# other time, and Daphne then took 10 s (its application close timeout) to stop.
STOP_GRACE = 3.0
# Killed with the test process, where util-linux's setpriv is there: a run that is itself
# killed (a CI time limit) leaves no Daphne or worker behind to take the next run's jobs.
SETPRIV = shutil.which("setpriv")


def wait_for(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


class Processes:
    """Starts processes with the test database and Redis, and stops every one at the end."""

    def __init__(self, logs: Path, **env):
        self.logs = logs
        self.env = process_env(**env)
        self.running: list[subprocess.Popen] = []
        self.count = 0
        # Run after every process has stopped (stop_all): what a helper left to clean up.
        self.cleanups: list = []

    def start(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        self.count += 1
        if SETPRIV:
            command = [SETPRIV, "--pdeathsig", "KILL", "--", *command]
        with open(self.logs / f"{self.count:02d}-{name}.log", "wb") as log:
            # A session of its own, so that killing it takes any children along, as losing
            # the machine would.
            process = subprocess.Popen(
                command, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        process.log_path = log.name
        self.running.append(process)
        return process

    def web(self, port: int | None = None, server: str = "daphne") -> str:
        """Start the server as deployments do, `./run.sh serve` (Daphne, or uvicorn with
        `server="uvicorn"`), on `port` or a free one, and return its address once it answers."""
        port = port or free_port()
        venv = str(Path(sys.executable).parent.parent)
        env = {"BESPIN_SERVER": server, "HOST": "127.0.0.1", "PORT": str(port), "VENV": venv}
        process = self.start("web", [str(ROOT / "run.sh"), "serve"], **env)
        base = f"127.0.0.1:{port}"

        def answers():
            if process.poll() is not None:
                raise AssertionError(f"{server} exited:\n" + Path(process.log_path).read_text())
            try:
                urllib.request.urlopen(f"http://{base}/api/test", timeout=1).read()
                return True
            except OSError:
                return False

        wait_for(answers, 40, 0.2, f"{server} to answer")
        return base

    def worker(self, wait: bool = True) -> subprocess.Popen:
        """Start `manage.py rqworker default`; with `wait`, return once its heartbeat is in
        Redis, with its RQ name (the one its heartbeat and the jobs it runs carry) as
        `worker_name`."""
        connection = Redis.from_url(self.env["REDIS_URL"])
        before = set(connection.zrange(heartbeats.WORKERS_KEY, 0, -1))
        process = self.start("worker", [sys.executable, "manage.py", "rqworker", "default"])
        process.worker_name = None
        if wait:

            def beating():
                if process.poll() is not None:
                    raise AssertionError("the worker exited:\n" + self.log_of(process))
                return set(connection.zrange(heartbeats.WORKERS_KEY, 0, -1)) - before

            (name,) = wait_for(beating, 40, 0.1, "the worker's first heartbeat")
            process.worker_name = name.decode()
        return process

    def redis(self, port: int, *options: str, name: str = "redis") -> subprocess.Popen:
        """redis-server on `port`, nothing saved, with any further `options` (`--replicaof …`)."""
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        process = self.start(
            name,
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.logs), *options],  # a replica's copy of the master lands there, not in the checkout
        )  # fmt: skip
        wait_for(lambda: port_open(port), 10, message="redis-server to listen")
        return process

    @staticmethod
    def kill(process: subprocess.Popen, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(10)

    def stop(self, *processes: subprocess.Popen) -> None:
        """SIGTERM, as a deploy or `docker stop` sends; whatever has not exited after
        STOP_GRACE is killed, and says so at the end of its log."""
        running = [process for process in processes if process.poll() is None]
        for process in running:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with open(process.log_path, "ab") as log:
                    log.write(f"\n[tests] still running {STOP_GRACE} s after SIGTERM: killed\n".encode())
                self.kill(process)

    def stop_all(self) -> None:
        self.stop(*self.running)
        while self.cleanups:
            self.cleanups.pop()()

    def log_of(self, process) -> str:
        return Path(process.log_path).read_text(errors="replace")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def post_json(base: str, path: str, body: bytes = b"", timeout: float = 10, headers: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://{base}{path}", data=body or None, method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
    return json.load(urllib.request.urlopen(request, timeout=timeout))
