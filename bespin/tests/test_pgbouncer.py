"""Bespin through a real PgBouncer in transaction mode (DATABASE_URL the pooler,
DATABASE_DIRECT_URL PostgreSQL itself): a server and a worker as processes, and each part
that talks to PostgreSQL at work through it: jobs created, run and watched over WebSockets
(whose reads use Bespin's async pool, many times on one connection, where a prepared statement
would break), pages of jobs, a completion callback (its sender LISTENs on a connection of its
own, straight to PostgreSQL, not one of PgBouncer's), a schedule's tick,
a webhook delivery that starts a job, and `manage.py migrate`, which goes straight to the
server."""

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from websockets.sync.client import connect

from bespin.testing.pgbouncer import server_pids, start_pgbouncer
from bespin.testing.processes import ROOT, Processes, free_port, post_json, wait_for
from callbacks import services as callback_services
from callbacks.models import CallbackDelivery, DeliveryState
from jobs.models import Job
from schedules.models import Schedule
from webhooks.models import WebhookSource, WebhookTrigger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


class Receiver(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        Receiver.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def through_pgbouncer(tmp_path):
    processes = Processes(
        tmp_path, BESPIN_CALLBACK_ALLOW_PRIVATE="1", ACME_WEBHOOK_SECRET="acme-secret", BESPIN_WEBHOOK_CONFIG_TTL="0"
    )
    try:
        processes.env.update(start_pgbouncer(processes))
        base = processes.web()
        processes.worker()
        yield processes, base
    finally:
        processes.stop_all()


def _get(base: str, path: str, token: str) -> dict:
    request = urllib.request.Request(f"http://{base}{path}", headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=20) as answer:
        return json.load(answer)


def test_jobs_callbacks_schedules_and_webhooks_work_through_pgbouncer_in_transaction_mode(through_pgbouncer, owner):
    processes, base = through_pgbouncer
    token = Token.objects.create(user=owner).key
    auth = {"Authorization": f"Token {token}"}
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    callback_services.rotate_callback_secret(user=owner)
    try:
        # Jobs, each watched to its end; twenty sockets, so each async connection reads often.
        text = json.dumps({"type": "random_text", "params": {"length": 3}}).encode()
        created = [post_json(base, "/api/jobs", text, headers=auth) for _ in range(20)]
        for job in created:
            with connect(f"ws://{base}/api/ws/jobs?job_id={job['id']}", open_timeout=10) as socket:
                while json.loads(socket.recv(timeout=20))["status"] != "completed":
                    pass
        # Pages of jobs, the first and the next (cursor pagination, 20 a page).
        created += [post_json(base, "/api/jobs", text, headers=auth) for _ in range(5)]
        first = _get(base, "/api/jobs", token)
        assert len(first["results"]) == 20 and first["next"]
        assert len(_get(base, first["next"].split(base, 1)[1], token)["results"]) == 5

        # A callback, sent once the job ends: the worker's sender wakes on NOTIFY, which its
        # LISTEN on the direct connection hears.
        body = {
            "type": "random_text",
            "params": {"length": 3},
            "callback_url": f"http://127.0.0.1:{receiver.server_port}/done",
        }
        job = post_json(base, "/api/jobs", json.dumps(body).encode(), headers=auth)
        wait_for(lambda: CallbackDelivery.objects.filter(job_id=job["id"], state=DeliveryState.DELIVERED).exists(),
                 30, 0.1, "the callback to be delivered")  # fmt: skip
        assert any(job["id"].encode() in received for received in Receiver.received)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %%' AND datname = current_database()"
            )
            listening = {pid for (pid,) in cursor.fetchall()}
        assert listening and not listening & server_pids(processes.env["DATABASE_URL"])

        # A schedule's tick: made due now, the workers' clock starts its job.
        schedule = post_json(
            base, "/api/schedules", headers=auth,
            body=json.dumps({"name": "nightly", "cron": "0 3 * * *", "timezone": "UTC", "type": "random_text",
                             "params": {"length": 2}}).encode(),
        )  # fmt: skip
        Schedule.objects.filter(id=schedule["id"]).update(next_run_at=timezone.now() - timedelta(seconds=1))
        wait_for(lambda: Job.objects.filter(schedule_id=schedule["id"], status="completed").exists(), 30, 0.2,
                 "the schedule's tick to start a job that completes")  # fmt: skip

        # A webhook delivery whose trigger starts a job.
        source = WebhookSource.objects.create(name="acme")
        WebhookTrigger.objects.create(
            source=source, event_pattern="order.*", job_kind="random_text", params={"length": 2}
        )
        payload = json.dumps({"event": "order.paid", "order": 42}).encode()
        signature = hmac.new(b"acme-secret", payload, hashlib.sha256).hexdigest()
        receipt = post_json(base, "/api/webhooks/acme", payload, headers={"X-Webhook-Signature": signature})
        assert receipt["job_id"]
        wait_for(lambda: Job.objects.filter(id=receipt["job_id"], status="completed").exists(), 30, 0.2,
                 "the webhook's job to complete")  # fmt: skip
    finally:
        receiver.shutdown()
    assert "Traceback" not in "".join(processes.log_of(process) for process in processes.running[1:])

    # migrate takes the direct connection: it works with the pooler's address dead (nothing
    # to apply: the test database is migrated).
    env = {**processes.env, "DATABASE_URL": f"postgres://nobody@127.0.0.1:{free_port()}/nowhere"}
    migrate = [sys.executable, "manage.py", "migrate", "--check"]
    plan = subprocess.run(migrate, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
