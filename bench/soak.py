"""`make soak` (`MINUTES=4` by default): Bespin past one machine, on this one, under faults.

    .venv/bin/python bench/soak.py [--minutes N] [--no-write]

Three servers and four workers on a PostgreSQL cluster of their own and a Redis master with
a replica and three sentinels, all processes. Clients create jobs steadily (a kind safe to
re-run and one that is not) and watch the latest over WebSockets, while a fault schedule
runs: a worker SIGKILLed (and another started), a server restarted, a Sentinel failover (the
master SIGKILLed), PostgreSQL restarted. Then every job answered 201 is waited for, and the
run's figures are printed and written to docs/BENCHMARKS.md: jobs created, completed,
failed, lost (must be 0), run twice (by kind), answers other than 201, and p99 creation
latency during faults (the 20 s after each) and outside them. Exits 1 when a job was lost,
a job not safe to re-run ran twice, or an answer was a 500.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAULT_WINDOW = 20.0  # seconds after a fault counted as "during"
UNSAFE, SAFE = "examples.reports.tasks.summarize", "random_text"
FINAL = {"completed", "failed", "cancelled"}
CLIENTS = 3


def _setup_django(database_url: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="bespin.settings", BESPIN_ENV_FILE="",
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bespin-soak-only", BESPIN_APPS="examples.reports",
    )  # fmt: skip
    import django

    django.setup()


class Clients:
    """CLIENTS threads creating jobs, alternating kinds and servers, each answer kept as
    (start, seconds, status, job id or None)."""

    def __init__(self, servers: list[str], token: str):
        self.servers, self.token = servers, token
        self.answers: list[tuple[float, float, int, str | None]] = []
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(CLIENTS)]

    def _run(self, number: int) -> None:
        turn = number
        while not self.stop.is_set():
            turn += CLIENTS
            base = self.servers[turn % len(self.servers)]
            if turn % 2:
                body = {"type": UNSAFE, "params": {"text": f"words of job {turn}"}}
            else:
                body = {"type": SAFE, "params": {"length": 5}}
            request = urllib.request.Request(
                f"http://{base}/api/jobs", data=json.dumps(body).encode(), method="POST",
                headers={"Content-Type": "application/json", "Authorization": f"Token {self.token}"},
            )  # fmt: skip
            started = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    status, job = answer.status, json.load(answer)["id"]
            except urllib.error.HTTPError as refused:
                status, job = refused.code, None
            except OSError:
                status, job = 0, None  # the server was restarting: no answer at all
            with self.lock:
                self.answers.append((started, time.monotonic() - started, status, job))
            time.sleep(0.05)

    def created(self) -> list[str]:
        with self.lock:
            return [job for _, _, status, job in self.answers if status == 201]


class Watchers:
    """A thread that watches the latest created job to its end, again and again, reconnecting
    when its socket is closed or silent; counts what it saw."""

    def __init__(self, servers: list[str], clients: Clients):
        self.servers, self.clients = servers, clients
        self.watched, self.final, self.reconnects = 0, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from websockets.sync.client import connect

        turn, last = 0, None
        while not self.stop.is_set():
            created = self.clients.created()
            if not created or created[-1] == last:
                time.sleep(0.1)
                continue
            job, turn = created[-1], turn + 1
            last = job
            self.watched += 1
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not self.stop.is_set():
                try:
                    url = f"ws://{self.servers[turn % len(self.servers)]}/api/ws/jobs?job_id={job}"
                    with connect(url, open_timeout=10) as socket:
                        while json.loads(socket.recv(timeout=10)).get("status") not in FINAL:
                            pass
                    self.final += 1
                    break
                except Exception:
                    self.reconnects += 1
                    time.sleep(0.5)


def p99(values: list[float]) -> str:
    from bench.client import percentile

    return f"{percentile(values, 0.99) * 1000:.0f} ms" if values else "–"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--no-write", action="store_true", help="print the figures only")
    args = parser.parse_args()
    duration = args.minutes * 60

    from bespin.testing.postgres import PrivatePostgres

    postgres = PrivatePostgres()
    try:
        return _soak(args, postgres, duration)
    finally:
        try:
            postgres.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(postgres.directory, ignore_errors=True)


def _soak(args, postgres, duration: float) -> int:
    _setup_django(postgres.url())
    from django.db import OperationalError, connection
    from rest_framework.authtoken.models import Token

    from bench import report
    from bespin.testing.processes import Processes, wait_for
    from bespin.testing.sentinel import SentinelRedis
    from jobs.models import Job

    logs = Path(tempfile.mkdtemp(prefix="bespin-soak-"))
    processes = Processes(logs, LOG_LEVEL="INFO", BESPIN_THROTTLE_USER="1000000/min", BESPIN_APPS="examples.reports")
    redis = SentinelRedis(processes, logs)
    machine = report.machine_info()
    faults: list[tuple[float, str]] = []
    try:
        print(f"soak: logs in {logs}", flush=True)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=processes.env, check=True)
        redis.start()
        processes.env.update(redis.env())
        servers, web = [], {}
        for _ in range(3):
            servers.append(processes.web())
            web[servers[-1]] = processes.running[-1]
        workers = [processes.worker() for _ in range(4)]
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user("soak", password="soak-password-1")
        clients = Clients(servers, Token.objects.create(user=user).key)
        watchers = Watchers(servers, clients)
        started = time.monotonic()
        for thread in clients.threads:
            thread.start()
        watchers.thread.start()

        def at(fraction: float, name: str, fault) -> None:
            wait = started + duration * fraction - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            print(f"soak: {time.monotonic() - started:5.0f} s  {name}", flush=True)
            faults.append((time.monotonic(), name))
            fault()

        def kill_worker():
            victim = workers.pop(0)
            processes.kill(victim)
            workers.append(processes.worker())

        def restart_server():
            base = servers[0]
            processes.stop(web[base])
            processes.web(port=int(base.rsplit(":", 1)[1]))
            web[base] = processes.running[-1]

        def restart_postgres():
            postgres.stop()
            time.sleep(3)
            postgres.start()
            connection.close()

        at(0.15, "a worker SIGKILLed, another started", kill_worker)
        at(0.35, "a server restarted", restart_server)

        def failover():
            old = redis.master()
            redis.kill_master()
            redis.wait_for_failover(old)

        at(0.55, "Redis master SIGKILLed: Sentinel failover", failover)
        at(0.75, "PostgreSQL restarted", restart_postgres)
        wait = started + duration - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        clients.stop.set()
        for thread in clients.threads:
            thread.join(40)
        watchers.stop.set()

        created = clients.created()

        def unfinished() -> int:
            try:
                return Job.objects.filter(id__in=created).exclude(status__in=FINAL).count()
            except OperationalError:  # this process's connection, from before PostgreSQL's restart
                connection.close()
                return -1

        try:
            wait_for(lambda: unfinished() == 0, 180, 1.0, "every job answered 201 to end")
        except AssertionError:
            pass
        statuses = Counter(Job.objects.filter(id__in=created).values_list("status", flat=True))
        lost = len(created) - sum(statuses[status] for status in FINAL)
        attempts: dict[str, set] = {}
        for process in processes.running:
            log = Path(process.log_path).read_text(errors="replace")
            for job, attempt in re.findall(r"job_change job=(\S+) kind=\S+ status=running attempt=(\d+)", log):
                attempts.setdefault(job, set()).add(attempt)
        kinds = {str(job): kind for job, kind in Job.objects.filter(id__in=created).values_list("id", "type")}
        twice = Counter(kinds.get(job, "?") for job, runs in attempts.items() if len(runs) > 1 and job in kinds)
        failed = Counter(
            error.split(":")[0][:60]
            for error in Job.objects.filter(id__in=created, status="failed").values_list("error", flat=True)
        )

        def during(moment: float) -> bool:
            return any(0 <= moment - fault < FAULT_WINDOW for fault, _ in faults)

        answers = clients.answers
        other = Counter(status for _, _, status, _ in answers if status != 201)
        latency_in = [seconds for begun, seconds, status, _ in answers if status == 201 and during(begun)]
        latency_out = [seconds for begun, seconds, status, _ in answers if status == 201 and not during(begun)]
        failures = f" ({', '.join(f'{n}: {e}' for e, n in failed.items())})" if failed else ""
        others = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(other.items())) or "none"
        rows = [
            ("jobs created (201)", f"{len(created)}"),
            ("completed", f"{statuses['completed']}"),
            ("failed", f"{statuses['failed']}{failures}"),
            ("lost (answered 201, never ended)", f"{lost}"),
            ("run twice (a second attempt)",
             f"{twice.get(SAFE, 0)} of {SAFE} (safe to re-run); {twice.get(UNSAFE, 0)} of {UNSAFE} (not)"),
            ("answers other than 201", others),
            ("p99 creation latency, outside faults", f"{p99(latency_out)} ({len(latency_out)} requests)"),
            ("p99 creation latency, in the 20 s after a fault", f"{p99(latency_in)} ({len(latency_in)} requests)"),
            ("WebSocket watchers",
             f"{watchers.watched} jobs watched, {watchers.final} seen to their end, {watchers.reconnects} reconnects"),
        ]  # fmt: skip
        text = "\n".join([
            f"Run of {machine['date']}: {args.minutes:g} minutes, 3 servers, 4 workers, {CLIENTS} clients; commit "
            f"{machine['commit']}; {machine['cpu']}, {machine['cores']} cores. Faults: "
            + "; ".join(f"{fault - started:.0f} s {name}" for fault, name in faults) + ".",
            "",
            "| figure | value |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in rows),
        ])  # fmt: skip
        print(f"\n{text}\n", flush=True)
        if not args.no_write:
            report.write(text, mode="soak")
        return 1 if lost or twice.get(UNSAFE) or other.get(500) else 0
    finally:
        processes.stop_all()


if __name__ == "__main__":
    sys.exit(main())
