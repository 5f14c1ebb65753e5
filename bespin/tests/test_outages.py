"""Outages answer 503, not 500: PostgreSQL or Redis restarted under a load of clients
creating jobs. Every answer is 201 or 503 (with Retry-After and the part that is down), a
WebSocket opened meanwhile is closed with 4503, the server recovers by itself, and no job
that was answered 201 is lost."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psycopg
import pytest
from django.db.models import Count
from websockets.sync.client import connect

from bespin.testing.postgres import PrivatePostgres
from bespin.testing.processes import ROOT, Processes, free_port, wait_for
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 4


@pytest.fixture
def private_postgres():
    if os.geteuid() != 0 and os.environ.get("USER") != "postgres":
        pytest.skip("a private cluster is started as user postgres, which needs root")
    cluster = PrivatePostgres()
    yield cluster
    try:
        cluster.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(cluster.directory, ignore_errors=True)


class Load:
    """CLIENTS threads creating jobs until stopped; every answer kept."""

    def __init__(self, base: str):
        self.base, self.answers, self.stopping = base, [], threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def _run(self) -> None:
        body = json.dumps({"type": "random_text", "params": {"length": 3}}).encode()
        while not self.stopping.is_set():
            request = urllib.request.Request(
                f"http://{self.base}/api/jobs", data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = (response.status, dict(response.headers), json.load(response))
            except urllib.error.HTTPError as error:
                answer = (error.code, dict(error.headers), json.loads(error.read() or b"{}"))
            with self.lock:
                self.answers.append(answer)

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(40)

    def count(self) -> int:
        with self.lock:
            return len(self.answers)

    def created_since(self, mark: int) -> int:
        with self.lock:
            return sum(status == 201 for status, _, _ in self.answers[mark:])


def _first_message(base: str, job_id: str) -> dict:
    """What a WebSocket opened on the job is sent first."""
    with connect(f"ws://{base}/api/ws/jobs?job_id={job_id}", open_timeout=20) as ws:
        return json.loads(ws.recv(timeout=20))


def _check_answers(answers: list, part: str) -> list[str]:
    statuses = {status for status, _, _ in answers}
    assert statuses <= {201, 503}, statuses
    for status, headers, body in answers:
        if status == 503:
            assert int(headers["Retry-After"]) > 0
            assert part in body["error"]
    return [body["id"] for status, _, body in answers if status == 201]


def test_postgresql_restarted_under_load_gives_503s_then_recovers_and_loses_nothing(tmp_path, private_postgres):
    processes = Processes(
        tmp_path, DATABASE_URL=private_postgres.url(), BESPIN_ENQUEUE_GRACE="1", BESPIN_ANON_MAX_UNFINISHED="0"
    )
    try:
        migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
        subprocess.run(migrate, cwd=ROOT, env=processes.env, check=True, capture_output=True, timeout=120)
        base = processes.web()
        processes.worker()
        with Load(base) as load:
            wait_for(lambda: load.created_since(0) >= 20, 30, message="jobs to be created")
            watched = next(body["id"] for status, _, body in load.answers if status == 201)
            assert _first_message(base, watched)["type"] == "job_status"
            private_postgres.stop()
            down = load.count()
            wait_for(lambda: any(s == 503 for s, _, _ in load.answers[down:]), 30, message="a 503")
            # A socket opening now is told why and closed (twice: the server's connection
            # from before is broken, then none can be made).
            for _ in range(2):
                refused = _first_message(base, watched)
                assert (refused["type"], refused["code"]) == ("error", 4503), refused
                assert "database" in refused["error"]
            time.sleep(1)  # a while of outage under load
            private_postgres.start()
            back = load.count()
            wait_for(lambda: load.created_since(back) >= 20, 60, message="creation to recover")
            assert _first_message(base, watched)["job_id"] == watched
        created = _check_answers(load.answers, "database")
        with psycopg.connect(private_postgres.url()) as db:
            stored = {str(job_id) for (job_id,) in db.execute("SELECT id FROM jobs_job")}
            assert set(created) <= stored, "a job answered 201 is missing"
            wait_for(
                lambda: db.execute("SELECT count(*) FROM jobs_job WHERE status <> 'completed'").fetchone()[0] == 0,
                90, 0.5, "every job to complete",
            )  # fmt: skip
    finally:
        processes.stop_all()


def test_redis_restarted_under_load_never_gives_a_500_and_jobs_still_finish(tmp_path):
    port = free_port()
    processes = Processes(
        tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0", BESPIN_ENQUEUE_GRACE="1", BESPIN_ANON_MAX_UNFINISHED="0"
    )
    try:
        redis_server = processes.redis(port)
        base = processes.web()
        processes.worker()
        with Load(base) as load:
            wait_for(lambda: load.created_since(0) >= 20, 30, message="jobs to be created")
            Processes.kill(redis_server)
            down = load.count()
            wait_for(lambda: load.count() >= down + 20, 30, message="answers while Redis is down")
            processes.redis(port)
            back = load.count()
            wait_for(lambda: load.created_since(back) >= 20, 60, message="creation after the restart")
        created = _check_answers(load.answers, "redis")
        try:
            wait_for(lambda: not Job.objects.exclude(status="completed").exists(), 90, 0.5, "every job to complete")
        except AssertionError:
            counts = dict(Job.objects.order_by().values_list("status").annotate(n=Count("id")))
            worker = processes.log_of(processes.running[2])[-4000:]
            raise AssertionError(f"jobs by status: {counts}; worker log:\n{worker}") from None
        assert set(created) <= {str(job_id) for job_id in Job.objects.values_list("id", flat=True)}
    finally:
        processes.stop_all()
