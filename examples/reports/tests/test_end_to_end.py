"""The example app's tasks, end to end: Daphne and a worker started as processes with
BESPIN_APPS=examples.reports (as `make test` sets it). Each task is enqueued from code and from
the API, watched over the WebSocket and on the dashboard, run later, scheduled, started by a
webhook and called back, as a built-in job is."""

import asyncio
import json
import urllib.request
from datetime import timedelta

import pytest
import websockets
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from bespin.testing.processes import wait_for
from callbacks.services import rotate_callback_secret
from examples.reports import tasks as reports
from jobs.compat import TaskResultStatus
from jobs.models import Job, JobStatus
from schedules import services as schedules
from schedules.models import Schedule
from webhooks import sources
from webhooks.tests.signing import bespin_headers, body_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

SEND_REPORT = "examples.reports.tasks.send_report"
# What the module's processes run with (the `processes` fixture): callbacks to this machine.
PROCESS_ENV = {"BESPIN_CALLBACK_ALLOW_PRIVATE": "1", "LOG_LEVEL": "WARNING"}


@pytest.fixture
def system(processes):
    """The server's address, with a worker running."""
    base = processes.web()
    processes.worker()
    return base


@pytest.fixture
def token(owner) -> str:
    return Token.objects.create(user=owner).key


def _request(base: str, path: str, body=None, *, token: str = "", cookie: str = "") -> tuple[int, dict | str]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Token {token}"
    if cookie:
        headers["Cookie"] = cookie
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{base}{path}", data=data, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        response = error
    text = response.read().decode()
    return response.status, (json.loads(text) if "json" in response.headers.get("Content-Type", "") else text)


def _finished(job_id) -> Job:
    return wait_for(lambda: (job := Job.objects.get(id=job_id)).is_final and job, 30, message=f"job {job_id} to finish")


def test_enqueued_from_code_it_runs_on_a_worker_process_and_get_result_reads_it(system):
    result = reports.send_report.enqueue(period="day", pages=2)
    wait_for(lambda: reports.send_report.get_result(result.id).is_finished, 30, message="the task to finish")
    done = reports.send_report.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value["period"] == "day" and done.return_value["sent_to"] is None  # code: nobody's
    assert done.worker_ids and done.attempts == 1


def test_started_from_the_api_it_is_watched_over_the_websocket_and_on_the_dashboard(system, owner, token):
    status, job = _request(system, "/api/jobs", {"type": SEND_REPORT, "params": {"pages": 5}}, token=token)
    assert status == 201, job

    async def follow() -> list[dict]:
        seen = []
        async with websockets.connect(f"ws://{system}/api/ws/jobs?job_id={job['id']}") as socket:
            while not seen or seen[-1]["status"] not in ("completed", "failed"):
                seen.append(json.loads(await asyncio.wait_for(socket.recv(), timeout=20)))
        return seen

    seen = asyncio.run(follow())
    assert seen[-1]["status"] == "completed" and seen[-1]["result"]["sent_to"] == "owner"
    assert any(0 < message["progress"] < 100 for message in seen if message["status"] == "running")
    # The dashboard's page of the job, signed in as its owner.
    client = Client()
    client.force_login(owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    status, page = _request(system, f"/jobs/{job['id']}", cookie=cookie)
    assert status == 200 and SEND_REPORT in page and "sent_to" in page
    status, tasks_page = _request(system, "/tasks/", cookie=cookie)
    assert status == 200 and SEND_REPORT in tasks_page and "Builds a report" in tasks_page


def test_run_later_it_waits_scheduled_then_runs(system, token):
    body = {"type": SEND_REPORT, "params": {"pages": 1}, "delay": 1}
    status, job = _request(system, "/api/jobs", body, token=token)
    assert (status, job["status"]) == (201, "scheduled")
    assert _finished(job["id"]).status == JobStatus.COMPLETED


def test_a_schedule_of_it_starts_its_job_on_the_tick(system, owner):
    schedule = schedules.create_schedule(owner=owner, name="weekly report", cron="* * * * *", type=SEND_REPORT)
    Schedule.objects.filter(id=schedule.id).update(next_run_at=timezone.now() - timedelta(seconds=1))
    job = wait_for(lambda: Job.objects.filter(schedule=schedule).first(), 20, message="the tick's job")
    assert (job.type, _finished(job.id).status) == (SEND_REPORT, JobStatus.COMPLETED)
    assert _finished(job.id).result["sent_to"] == "owner"


def test_a_webhook_starts_it(system):
    source = sources.create_source(name="shop", scheme="bespin")
    sources.add_secret(source=source, secret="shop-secret")
    sources.set_trigger(source=source, event_pattern="order.*", job_kind=SEND_REPORT, params={"pages": 1})
    body = body_of({"event": "order.paid"})
    request = urllib.request.Request(
        f"http://{system}/api/webhooks/shop", data=body, headers=bespin_headers("shop-secret", body)
    )
    answer = json.load(urllib.request.urlopen(request, timeout=10))
    assert _finished(answer["job_id"]).status == JobStatus.COMPLETED


def test_it_is_called_back_when_it_ends(system, owner, token, receiver):
    secret = rotate_callback_secret(user=owner).secret
    listening = receiver(secrets=[secret])
    body = {"type": SEND_REPORT, "params": {"pages": 1}, "callback_url": listening.url()}
    status, job = _request(system, "/api/jobs", body, token=token)
    assert status == 201, job
    (sent,) = listening.wait_for_requests(1)
    assert sent["verified_by"] == [0]
    assert json.loads(sent["body"])["type"] == SEND_REPORT and json.loads(sent["body"])["status"] == "completed"
