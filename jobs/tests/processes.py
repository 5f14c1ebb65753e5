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

from redis import Redis

from conftest import ROOT, process_env
from jobs import heartbeats


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        self.count += 1
        log = open(self.logs / f"{self.count:02d}-{name}.log", "wb")
        # A session of its own, so that killing it takes its children (RQ's scheduler) along,
        # as losing the machine would.
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        process.log_path = log.name
        self.running.append(process)
        return process

    def web(self) -> str:
        port = free_port()
        daphne = str(Path(sys.executable).parent / "daphne")
        process = self.start("web", [daphne, "-b", "127.0.0.1", "-p", str(port), "bespin.asgi:application"])
        base = f"127.0.0.1:{port}"

        def answers():
            if process.poll() is not None:
                raise AssertionError("Daphne exited:\n" + Path(process.log_path).read_text())
            try:
                urllib.request.urlopen(f"http://{base}/api/test", timeout=1).read()
                return True
            except OSError:
                return False

        wait_for(answers, 40, 0.2, "Daphne to answer")
        return base

    def worker(self, wait: bool = True) -> subprocess.Popen:
        """Start `manage.py rqworker default`; with `wait`, return once its heartbeat is in Redis."""
        connection = Redis.from_url(self.env["REDIS_URL"])
        before = set(connection.zrange(heartbeats.WORKERS_KEY, 0, -1))
        process = self.start("worker", [sys.executable, "manage.py", "rqworker", "default"])
        if wait:

            def beating():
                if process.poll() is not None:
                    raise AssertionError("the worker exited:\n" + self.log_of(process))
                return set(connection.zrange(heartbeats.WORKERS_KEY, 0, -1)) - before

            wait_for(beating, 40, 0.1, "the worker's first heartbeat")
        return process

    def redis(self, port: int) -> subprocess.Popen:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        process = self.start(
            "redis", [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        )
        wait_for(lambda: _port_open(port), 10, message="redis-server to listen")
        return process

    @staticmethod
    def kill(process: subprocess.Popen, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.running:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.running:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill(process)

    def log_of(self, process) -> str:
        return Path(process.log_path).read_text(errors="replace")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def post_json(base: str, path: str, body: bytes = b"", timeout: float = 10) -> dict:
    request = urllib.request.Request(
        f"http://{base}{path}", data=body or None, method="POST", headers={"Content-Type": "application/json"}
    )
    return json.load(urllib.request.urlopen(request, timeout=timeout))
