"""`make dev`'s Ctrl-C: `./run.sh dev` stops the server and the worker, at once on a second
Ctrl-C, leaves neither running once it returns, and ends with status 0 after a stop it was
asked for (make then prints no error). Most tests run it without the code reloader
(BESPIN_RELOAD=0), whose processes sit between run.sh and the server and the worker; those
started with `reload=True` run it as `make dev` does by default.

What the tests start runs in a session of its own, as a terminal's foreground job would, and
they send SIGINT to its whole process group, as the terminal does on Ctrl-C.
"""

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from rq.worker import Worker

from bespin.testing.processes import ROOT, free_port, process_env, wait_for
from jobs.execution import heartbeats
from jobs.models import Job, JobStatus
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)


def process_table() -> dict[int, tuple[str, int, int]]:
    """Every process: pid -> (state, parent pid, session id), from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone since listdir
        # The command name, in parentheses, may hold spaces: the fields follow the last ")".
        state, ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        table[int(entry)] = (state, int(ppid), int(session))
    return table


def descendants(pid: int) -> set[int]:
    table = process_table()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (_, ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those still running (a zombie runs nothing; it waits for its parent to read its status)."""
    table = process_table()
    return {pid for pid in pids if pid in table and table[pid][0] not in "ZX"}


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Dev:
    """`./run.sh dev` (or `make dev`) on a free port with the test database and Redis."""

    def __init__(self, logs: Path, command: list[str], reload: bool = False):
        self.port = free_port()
        self.log_path = logs / "dev.log"
        env = process_env(
            PORT=str(self.port), DEBUG="1", VENV=str(Path(sys.executable).parent.parent),
            BESPIN_RELOAD="1" if reload else "0",
        )  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*command, f"PORT={self.port}"] if command[0] == "make" else command,
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.server = self.worker = 0
        self.family: set[int] = set()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_running(self, redis_conn) -> None:
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"exited ({self.process.returncode}):\n{self.log()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/test", timeout=1).read()
            except OSError:
                return False
            return redis_conn.zcard(heartbeats.WORKERS_KEY) and "Bespin is running" in self.log()

        wait_for(ready, 60, 0.2, "the server to answer, the worker's heartbeat and run.sh's greeting")
        self.family = descendants(self.process.pid)
        table = process_table()
        # Not the reloaders, whose command lines name what they run.
        running = {pid: command_line(pid) for pid in self.family if "bespin.reloader" not in command_line(pid)}
        (self.server,) = [pid for pid, line in running.items() if "daphne" in line]
        workers = {pid for pid, line in running.items() if "rqworker" in line}
        # One worker process: Bespin's workers fork no scheduler.
        (self.worker,) = [pid for pid in workers if table[pid][1] not in workers]
        assert workers == {self.worker}, self.log()

    def heartbeats(self, redis_conn) -> dict[str, int]:
        """The workers with a heartbeat in Redis, by name, and the pid each registered with RQ."""
        names = [name.decode() for name in redis_conn.zrange(heartbeats.WORKERS_KEY, 0, -1)]
        return {
            name: int(redis_conn.hget(f"{Worker.redis_worker_namespace_prefix}{name}", "pid") or 0) for name in names
        }

    def ctrl_c(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout} s:\n{self.log()}") from None

    def kill_everything(self) -> None:
        for pid in (self.process.pid, self.server, self.worker):
            try:
                if pid:
                    os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in alive(self.family):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(10)


@pytest.fixture
def start_dev(tmp_path):
    started = []

    def start(command=("./run.sh", "dev"), reload: bool = False) -> Dev:
        started.append(Dev(tmp_path, list(command), reload))
        return started[-1]

    yield start
    for dev in started:
        dev.kill_everything()


@pytest.fixture
def dev(start_dev):
    return start_dev()


def running_job(seconds: int) -> Job:
    job = creation.create_job(kind="sleep", params={"seconds": seconds})

    def running():
        job.refresh_from_db()
        return job.status == JobStatus.RUNNING

    wait_for(running, 30, 0.1, "the worker to start the sleep job")
    return job


def test_the_server_and_the_worker_run_out_of_reach_of_the_terminals_ctrl_c(dev, redis_conn):
    # Each leads a session (and a process group) of its own, so that Ctrl-C reaches them
    # only through run.sh, and a SIGKILL of the group takes along whatever they started.
    dev.wait_until_running(redis_conn)
    table = process_table()
    assert table[dev.server][2] == dev.server
    assert table[dev.worker][2] == dev.worker


def test_ctrl_c_stops_the_server_and_the_worker_and_run_sh_returns(dev, redis_conn):
    dev.wait_until_running(redis_conn)
    (name,) = [name for name, pid in dev.heartbeats(redis_conn).items() if pid == dev.worker]
    dev.ctrl_c()
    assert dev.wait(60) == 0
    assert alive(dev.family) == set()
    # A clean stop: the worker took its heartbeat with it. (Named, since Redis is shared by
    # every test: the heartbeats left show which process wrote them.)
    assert name not in dev.heartbeats(redis_conn), dev.heartbeats(redis_conn)
    assert "stopping Bespin" in dev.log()


@pytest.mark.parametrize("reload", [False, True], ids=["plain", "under-the-reloader"])
def test_ctrl_c_lets_the_running_job_finish_before_the_worker_stops(start_dev, redis_conn, reload):
    dev = start_dev(reload=reload)
    dev.wait_until_running(redis_conn)
    if reload:
        # The reloader (bespin/reloader.py) leads each session, the server and the worker its children.
        table = process_table()
        assert table[dev.server][1] == table[dev.server][2] != dev.process.pid
        assert "bespin.reloader" in command_line(table[dev.server][1])
    job = running_job(seconds=2)
    dev.ctrl_c()
    assert dev.wait(60) == 0
    assert alive(dev.family) == set()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_a_second_ctrl_c_stops_everything_at_once_leaving_the_job_to_the_sweep(dev, redis_conn):
    dev.wait_until_running(redis_conn)
    job = running_job(seconds=600)
    dev.ctrl_c()
    # Two signals that arrive together are one; a person's second Ctrl-C comes after the first.
    wait_for(lambda: "stopping Bespin:" in dev.log(), 10, message="run.sh to take the first Ctrl-C")
    dev.ctrl_c()
    # Far sooner than the job's ten minutes.
    assert dev.wait(30) == 0
    assert alive(dev.family) == set()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # abandoned: the recovery sweep re-runs or fails it
    assert "stopping Bespin at once" in dev.log()


def test_two_ctrl_c_under_make_dev_leave_nothing_running_when_make_returns(start_dev, redis_conn):
    # Make gets the terminal's SIGINT too, and waits for run.sh before it dies of it.
    dev = start_dev(["make", "dev"])
    dev.wait_until_running(redis_conn)
    running_job(seconds=600)
    dev.ctrl_c()
    wait_for(lambda: "stopping Bespin:" in dev.log(), 10, message="run.sh to take the first Ctrl-C")
    dev.ctrl_c()
    assert dev.wait(30) == -signal.SIGINT
    assert alive(dev.family) == set()


def test_when_the_server_dies_run_sh_stops_the_worker_and_returns_an_error(dev, redis_conn):
    dev.wait_until_running(redis_conn)
    os.kill(dev.server, signal.SIGKILL)
    assert dev.wait(60) == 1
    assert alive(dev.family) == set()
    assert "a Bespin process exited; stopping the other" in dev.log()


def test_one_ctrl_c_under_make_dev_ends_without_an_error_from_make(start_dev, redis_conn):
    dev = start_dev(["make", "dev"])
    dev.wait_until_running(redis_conn)
    dev.ctrl_c()
    # Make dies of the terminal's SIGINT as a shell expects, once run.sh has returned 0: it
    # prints no "*** [dev] Error 130".
    assert dev.wait(60) == -signal.SIGINT
    assert alive(dev.family) == set()
    assert "make: ***" not in dev.log(), dev.log()


def test_a_port_in_use_stops_make_dev_before_anything_with_how_to_choose_another(start_dev, redis_conn):
    first = start_dev()
    first.wait_until_running(redis_conn)
    env = process_env(PORT=str(first.port), VENV=str(Path(sys.executable).parent.parent), BESPIN_RELOAD="0")
    answer = subprocess.run(["./run.sh", "dev"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert answer.returncode == 1
    assert answer.stdout == ""
    assert answer.stderr == (
        f"port {first.port} is in use on this machine (another Bespin, or another server): stop it, "
        "or choose another port: make dev PORT=8001\n"
    )
