"""POST /api/jobs/batch: 1 to 1,000 jobs at once, all or none, in the order given; one
INSERT, one pipelined enqueue; the caller's limits count each job."""

import sys

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bespin.asgi import application
from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db

URL = "/api/jobs/batch"


def _batch(api, jobs, **headers):
    return api.post(URL, {"jobs": jobs}, format="json", **headers)


def test_a_batch_is_created_in_order_with_one_insert_and_enqueued(api, queue, django_capture_on_commit_callbacks):
    entries = [{"type": "random_text", "params": {"length": n}} for n in range(1, 6)]
    entries.append({"type": "sleep", "params": {"seconds": 1}})
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        response = _batch(api, entries)
    assert response.status_code == 201, response.json()
    jobs = response.json()["jobs"]
    assert [job["params"] for job in jobs] == [entry["params"] for entry in entries]
    assert all(job["status"] == JobStatus.PENDING and job["links"]["self"] for job in jobs)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "jobs_job"')]
    assert len(inserts) == 1
    assert sorted(queue.job_ids) == sorted(f"{job['id']}_1" for job in jobs)


def test_every_bad_entry_is_named_by_its_index_and_nothing_is_created(api, queue):
    entries = [
        {"type": "random_text", "params": {"length": 3}},
        {"type": "nope"},
        {"type": "sleep", "params": {"seconds": -1}},
        "not an object",
    ]
    response = _batch(api, entries)
    assert response.status_code == 400
    fields = response.json()["fields"]["jobs"]
    assert set(fields) == {"1", "2", "3"}
    assert "unknown job type" in str(fields["1"]) and "seconds" in fields["2"]["params"]
    assert response.json()["error"].startswith("jobs: 1: type: unknown job type")
    assert not Job.objects.exists() and not queue.job_ids


@pytest.mark.parametrize("jobs", [[], [{"type": "random_text"}] * 1001, "all of them", None])
def test_a_batch_must_hold_1_to_1000_jobs(api, jobs):
    response = api.post(URL, {"jobs": jobs} if jobs is not None else {}, format="json")
    assert response.status_code == 400
    assert "1 to 1000 jobs" in response.json()["error"]
    assert not Job.objects.exists()


def test_an_idempotency_key_covers_the_whole_batch(api):
    entries = [{"type": "random_text", "params": {"length": 2}}] * 3
    first = _batch(api, entries, HTTP_IDEMPOTENCY_KEY="batch-1")
    again = _batch(api, entries, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert [j["id"] for j in again.json()["jobs"]] == [j["id"] for j in first.json()["jobs"]]
    assert Job.objects.count() == 3
    other = _batch(api, entries[:2], HTTP_IDEMPOTENCY_KEY="batch-1")
    assert other.status_code == 422


def test_anonymous_ceilings_apply_to_each_job(api, owner):
    entries = [{"type": "sleep", "params": {"seconds": 1}}, {"type": "sleep", "params": {"seconds": 3600}}]
    response = _batch(api, entries)
    assert response.status_code == 400
    assert set(response.json()["fields"]["jobs"]) == {"1"} and "sign in" in response.json()["error"]
    api.force_authenticate(owner)
    assert _batch(api, entries).status_code == 201


def test_the_cap_on_unfinished_jobs_counts_each_job(api, settings):
    settings.ANON_MAX_UNFINISHED = 5
    entries = [{"type": "random_text", "params": {"length": 2}}]
    assert _batch(api, entries * 6).status_code == 429
    assert not Job.objects.exists()
    assert _batch(api, entries * 5).status_code == 201
    assert _batch(api, entries).status_code == 429


def test_the_creation_rate_counts_each_job(api, settings):
    settings.THROTTLE_ANON = "10/min"
    entries = [{"type": "random_text", "params": {"length": 2}}]
    assert _batch(api, entries * 11).status_code == 429
    assert _batch(api, entries * 10).status_code == 201
    refused = _batch(api, entries)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_whole_batch(api, run_worker):
    response = _batch(api, [{"type": "random_text", "params": {"length": 4}}] * 20)
    ids = [job["id"] for job in response.json()["jobs"]]
    run_worker()
    assert set(Job.objects.filter(id__in=ids).values_list("status", flat=True)) == {JobStatus.COMPLETED}


@pytest.mark.django_db(transaction=True)
async def test_a_stream_sees_each_new_job_of_a_batch(staff):
    client = await database_sync_to_async(Client)()
    await database_sync_to_async(client.force_login)(staff)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(application, "/api/ws/jobs?scope=site", headers=[(b"cookie", cookie)])
    assert (await communicator.connect())[0]
    entries = [{"type": "random_text", "params": {"length": n}} for n in range(1, 4)]
    response = await database_sync_to_async(client.post)(URL, {"jobs": entries}, content_type="application/json")
    ids = [job["id"] for job in response.json()["jobs"]]
    seen = [await communicator.receive_json_from(timeout=5) for _ in ids]
    assert [(m["job_id"], m["status"]) for m in seen] == [(job_id, "pending") for job_id in ids]
    await communicator.disconnect()


@pytest.mark.parametrize(
    "kind",
    [
        "examples.reports.tasks.rebuild_index",  # loaded, for code only
        "bespin.testing.tasks.boom",  # a task that is importable but not loaded here
        "this.x",  # any module: a client's type must never be imported
    ],
)
def test_a_type_not_offered_is_a_400_naming_it_and_nothing_is_imported(api, kind):
    module = kind.rsplit(".", 1)[0]
    imported_before = module in sys.modules
    for url, body in ((URL, {"jobs": [{"type": kind, "params": {}}]}), ("/api/jobs", {"type": kind, "params": {}})):
        response = api.post(url, body, format="json")
        assert response.status_code == 400, response.content
        assert "unknown job type" in response.json()["error"]
    assert (module in sys.modules) == imported_before
    assert not Job.objects.exists()
