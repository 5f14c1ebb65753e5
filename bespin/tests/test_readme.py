"""The README, followed as written, in a fresh copy of the checkout: every shell block runs,
in order, against the `make dev` the README starts, and must not fail.

What the test adds to the README's own lines, and only that:
- the copy holds the checkout's files (those git tracks or would track), without .env.dev
  and with this virtualenv linked in as .venv (so nothing is installed again);
- its own database (created by `make dev`, dropped at the end), Redis database and a free port
  (`localhost:8000` in the README becomes that port);
- `curl` fails on a 4xx or 5xx answer (`--fail-with-body`) and has a deadline;
- `make dev` starts in the background as a terminal's job and is stopped with Ctrl-C (SIGINT
  to its process group) when the README starts it again and at the end; `make test` is the
  suite running this, so it is not run again;
- the WebSocket client's standard input ends (Ctrl-D) once it has shown the job completed;
- the README's Python file (`# myapp/tasks.py`) is written where its first line says.
After the README, an edit to that file must reach the worker without a restart (the reloader).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings
from django.core.management import get_commands

from bespin.testing.processes import ROOT, free_port, wait_for

# Two `make dev` starts, a fresh database migrated, every block, a reload: more than the
# suite's 120 s on a slow machine; each wait below has its own bound and message.
pytestmark = pytest.mark.timeout(600)

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
# The client's lines, each after the terminal codes it writes to keep the prompt below them.
COMPLETED = re.compile(r'< \{"type": ?"job_status".*?"status": ?"completed"')

PRELUDE = r"""
set -euo pipefail
set -m  # background jobs in process groups of their own, as a terminal's
trap 'echo "README: this failed (status $?): $BASH_COMMAND" >&2' ERR
curl() { command curl --fail-with-body --max-time 30 "$@"; echo; }
DEV_PID= DEV_N=0
dev_stop() {
  [ -n "$DEV_PID" ] || return 0
  kill -INT -- "-$DEV_PID"
  local status=0
  wait "$DEV_PID" || status=$?
  # make dies of the terminal's SIGINT (130), once run.sh has returned 0: no error of its own.
  if [ "$status" != 130 ] || grep -q 'make: \*\*\*' "$DEV_LOG"; then
    echo "make dev stopped with status $status:" >&2; cat "$DEV_LOG" >&2; exit 1
  fi
  DEV_PID=
}
dev_start() {
  DEV_N=$((DEV_N + 1)) DEV_LOG=$LOGS/dev-$DEV_N.log
  command make dev > "$DEV_LOG" 2>&1 &
  DEV_PID=$!
  local deadline=$((SECONDS + 180))
  until grep -q "Bespin is running at http://localhost:$PORT/" "$DEV_LOG"; do
    if ! kill -0 "$DEV_PID" 2>/dev/null || [ "$SECONDS" -gt "$deadline" ]; then
      echo "make dev did not start:" >&2; cat "$DEV_LOG" >&2; exit 1
    fi
    sleep 0.2
  done
}
make() {
  case "$*" in
    dev) dev_stop; dev_start ;;
    test) echo "(make test: the suite that runs this)" ;;
    *) command make "$@" ;;
  esac
}
"""

EPILOGUE = r"""
echo "README: every block ran"
until [ -e "$LOGS/stop" ]; do sleep 0.2; done
dev_stop
"""


def readme_blocks() -> list[tuple[str, str]]:
    return FENCE.findall(README.read_text())


def fresh_copy(destination: Path) -> None:
    """The checkout's files as a clone would hold them (uncommitted changes included)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)  # times kept: the locks stay older than .venv's marks
    (destination / ".venv").symlink_to(Path(sys.prefix))


def kill_processes_in(folder: Path) -> None:
    """Whatever still runs in the copy (a failed run's server, worker, reloaders)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            pass


def serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/api/test", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


def database_url(name: str) -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres:///bespin"))
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(name: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_inline_manage_py_command_of_the_readme_exists_and_runs_from_the_virtualenv():
    text = README.read_text()
    lines = re.findall(r"([\w./]*python) manage\.py (\w+)", text)
    assert lines
    assert {python for python, _ in lines} == {".venv/bin/python"}
    assert {command for _, command in lines} <= set(get_commands())


def test_the_readme_runs_as_written_in_a_fresh_clone(tmp_path, redis_conn):
    clone, logs = tmp_path / "bespin", tmp_path / "logs"
    clone.mkdir()
    logs.mkdir()
    fresh_copy(clone)
    assert not (clone / ".env.dev").exists()
    port, database = free_port(), f"bespin_readme_{uuid.uuid4().hex[:8]}"

    script = [PRELUDE]
    for language, body in readme_blocks():
        if language == "python" and (path := re.match(r"# (\S+\.py)\n", body)):
            (clone / path[1]).parent.mkdir(parents=True, exist_ok=True)
            (clone / path[1]).write_text(body)
        elif language in ("bash", "sh"):
            script.append(body.replace("localhost:8000", f"localhost:{port}"))
    script.append(EPILOGUE)
    (logs / "readme.sh").write_text("\n".join(script))

    # What a new user's shell has: none of the settings the tests run with.
    tests_only = ("SECRET_KEY", "DEBUG", "VENV")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("BESPIN_", "DJANGO_", "PYTEST_")) and name not in tests_only}  # fmt: skip
    env.update(DATABASE_URL=database_url(database), REDIS_URL=settings.REDIS_URL, PORT=str(port), LOGS=str(logs))
    output_path = logs / "readme.log"
    with open(output_path, "wb") as output:
        shell = subprocess.Popen(
            ["bash", str(logs / "readme.sh")], cwd=clone, env=env, stdin=subprocess.PIPE, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def said() -> str:
        return output_path.read_text(errors="replace")

    def ctrl_d_once_completed():
        # The WebSocket client reads its standard input: end it (Ctrl-D) once it has shown the
        # job completed, as someone watching would.
        deadline = time.monotonic() + 240
        while shell.poll() is None and time.monotonic() < deadline and not COMPLETED.search(said()):
            time.sleep(0.1)
        shell.stdin.close()

    threading.Thread(target=ctrl_d_once_completed, daemon=True).start()
    try:
        wait_for(
            lambda: "README: every block ran" in said() or shell.poll() is not None, 280, 0.2, "the README's blocks"
        )
        assert shell.poll() is None, f"the README's commands failed:\n{said()}"
        first_start = (logs / "dev-1.log").read_text()
        assert "wrote .env.dev" in first_start and "created the first user: admin / " in first_start, first_start
        assert re.search(r"^SECRET_KEY=\S{40,}$", (clone / ".env.dev").read_text(), re.M)
        assert COMPLETED.search(said()), said()

        # Every job the README started ends completed, on the worker of the last `make dev`,
        # the README's own task among them.
        with psycopg.connect(database_url(database), autocommit=True) as db:

            def statuses():
                return dict(db.execute("SELECT id::text, status FROM jobs_job").fetchall())

            wait_for(
                lambda: set(statuses().values()) == {"completed"}, 60, 0.2, f"the README's jobs to end: {statuses()}"
            )
            kinds = {kind for (kind,) in db.execute("SELECT DISTINCT type FROM jobs_job")}
            assert {"random_text", "sleep", "myapp.tasks.send_report"} <= kinds
            (token,) = db.execute("SELECT key FROM authtoken_token").fetchone()

            # An edit of the task reaches the worker, which the reloader starts again.
            tasks = clone / "myapp" / "tasks.py"
            tasks.write_text(tasks.read_text().replace('"period": period', '"period": period, "edited": True'))
            last_start = logs / f"dev-{len(list(logs.glob('dev-*.log')))}.log"
            wait_for(lambda: "[reload] worker: myapp/tasks.py changed" in last_start.read_text(), 30, 0.2, "the reload")
            wait_for(lambda: serving(port), 60, 0.2, "the server, started again too")
            request = urllib.request.Request(
                f"http://localhost:{port}/api/jobs", method="POST",
                data=b'{"type": "myapp.tasks.send_report", "params": {"period": "day"}}',
                headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.status == 201
            wait_for(
                lambda: db.execute("SELECT count(*) FROM jobs_job WHERE result::text LIKE '%edited%'").fetchone()[0],
                60, 0.2, "a job run by the edited task",
            )  # fmt: skip
        (logs / "stop").touch()
        assert shell.wait(90) == 0, said()
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
        kill_processes_in(clone)
        drop_database(database)
