"""Act in bulk: `POST /api/jobs/cancel` and `/api/jobs/retry` change the caller's jobs (staff:
any) named by ids or matched by a filter, answer what changed and what was skipped, and tell
watchers once per group."""

import pytest

from bespin.testing.listening import GroupListener
from bespin.testing.processes import wait_for
from jobs import events
from jobs.execution import queue
from jobs.models import Job, JobStatus
from jobs.services import bulk

pytestmark = pytest.mark.django_db


def _queued() -> set[str]:
    return {entry for name in queue.QUEUE_NAMES for entry in queue.rq_queue(name).job_ids}


def _status(job) -> str:
    return Job.objects.get(id=job.id).status


def test_cancel_by_ids_changes_the_callers_unfinished_jobs_and_skips_the_rest(
    api, owner, stranger, make_job, django_capture_on_commit_callbacks
):
    pending, running = make_job(owner=owner), make_job(owner=owner, state="running")
    scheduled = api_scheduled(api, owner)
    done, theirs = make_job(owner=owner, state="completed"), make_job(owner=stranger)
    api.force_authenticate(owner)
    ids = [str(job.id) for job in (pending, running, scheduled, done, theirs)] + [
        "1f0c0000-0000-4000-8000-000000000000"
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/jobs/cancel", {"ids": ids + ids[:1]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"changed": 3, "skipped": 3}
    assert [_status(j) for j in (pending, running, scheduled, done, theirs)] == [
        "cancelled", "cancelled", "cancelled", "completed", "pending",
    ]  # fmt: skip
    assert queue.rq_job_id(pending) not in _queued()  # taken off its queue
    assert queue.rq_job_id(theirs) in _queued()


def api_scheduled(api, owner):
    api.force_authenticate(owner)
    job_id = api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 1}, "delay": 600}, format="json").json()[
        "id"
    ]
    return Job.objects.get(id=job_id)


def test_retry_by_filter_runs_the_matching_failed_jobs_again(api, owner, make_job, django_capture_on_commit_callbacks):
    failed_text = [make_job(owner=owner, state="failed") for _ in range(3)]
    failed_sleep = make_job(kind="sleep", params={"seconds": 1}, owner=owner, state="failed")
    cancelled = make_job(owner=owner, state="cancelled")
    api.force_authenticate(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/jobs/retry", {"status": "failed", "type": "random_text"}, format="json")
    assert response.json() == {"changed": 3, "skipped": 0}
    for job in failed_text:
        job.refresh_from_db()
        assert (job.status, job.attempt, job.error, job.finished_at) == (JobStatus.PENDING, 2, "", None)
        assert queue.rq_job_id(job) in _queued()
    assert (_status(failed_sleep), _status(cancelled)) == ("failed", "cancelled")
    with django_capture_on_commit_callbacks(execute=True):
        everything = api.post("/api/jobs/retry", {"type": "sleep"}, format="json").json()
    assert everything == {"changed": 1, "skipped": 0}


def test_staff_act_on_anyones_jobs_and_users_only_on_their_own(api, owner, stranger, staff, make_job):
    theirs = make_job(owner=stranger)
    api.force_authenticate(owner)
    assert api.post("/api/jobs/cancel", {"type": "random_text"}, format="json").json() == {"changed": 0, "skipped": 0}
    assert _status(theirs) == "pending"
    api.force_authenticate(staff)
    assert api.post("/api/jobs/cancel", {"ids": [str(theirs.id)]}, format="json").json() == {"changed": 1, "skipped": 0}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/jobs/cancel", {}, "non_field_errors"),
        ("/api/jobs/cancel", {"ids": []}, "ids"),
        ("/api/jobs/cancel", {"ids": ["not-an-id"]}, "ids"),
        ("/api/jobs/cancel", {"ids": ["1f0c0000-0000-4000-8000-000000000000"], "type": "sleep"}, "ids"),
        ("/api/jobs/cancel", {"ids": ["1f0c0000-0000-4000-8000-000000000000"] * 1001}, "ids"),
        ("/api/jobs/cancel", {"status": "completed"}, "status"),
        ("/api/jobs/retry", {"status": "running"}, "status"),
        ("/api/jobs/retry", {"type": "mine_bitcoin"}, "type"),
    ],
)
def test_a_bulk_request_without_a_usable_selection_is_400(api, owner, path, body, field):
    api.force_authenticate(owner)
    response = api.post(path, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()


def test_bulk_changes_need_sign_in(api, make_job):
    job = make_job()
    assert api.post("/api/jobs/cancel", {"ids": [str(job.id)]}, format="json").status_code == 401
    assert _status(job) == "pending"


def test_a_filter_acts_on_at_most_the_bound_oldest_first(owner, make_job, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_JOBS", 2)
    jobs = [make_job(owner=owner) for _ in range(3)]
    result = bulk.cancel_jobs(jobs=Job.objects.filter(owner=owner))
    assert (result.changed, result.skipped) == (2, 0)
    assert [_status(job) for job in jobs] == ["cancelled", "cancelled", "pending"]


@pytest.mark.django_db(transaction=True)
def test_watchers_get_one_message_per_group_for_the_lot(owner, make_job):
    jobs = [make_job(owner=owner) for _ in range(5)]
    with GroupListener(events.owner_group(owner.pk)) as owners, GroupListener(events.job_group(jobs[0].id)) as one:
        bulk.cancel_jobs(jobs=Job.objects.filter(owner=owner))
        owner_messages, job_messages = owners.messages(), one.messages()
    assert sorted(m["job_id"] for m in owner_messages) == sorted(str(job.id) for job in jobs)
    assert {m["status"] for m in owner_messages} == {"cancelled"}
    assert [m["status"] for m in job_messages] == ["cancelled"]


@pytest.mark.django_db(transaction=True)
def test_bulk_cancel_stops_running_jobs_and_bulk_retry_runs_them_again_on_a_worker(api, owner, processes):
    processes.worker()
    api.force_authenticate(owner)
    created = [
        api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 2}}, format="json").json()["id"] for _ in range(3)
    ]
    wait_for(lambda: Job.objects.filter(id__in=created, status=JobStatus.RUNNING).exists(), 20, message="a run")
    assert api.post("/api/jobs/cancel", {"type": "sleep"}, format="json").json() == {"changed": 3, "skipped": 0}
    # The running one stops at its next progress report, and the worker is free again.
    probe = api.post("/api/jobs", {"type": "random_text", "params": {"length": 2}}, format="json").json()["id"]
    wait_for(lambda: Job.objects.filter(id=probe, status=JobStatus.COMPLETED).exists(), 20, message="the probe")
    assert set(Job.objects.filter(id__in=created).values_list("status", flat=True)) == {"cancelled"}
    assert api.post("/api/jobs/retry", {"ids": created}, format="json").json() == {"changed": 3, "skipped": 0}
    wait_for(
        lambda: Job.objects.filter(id__in=created, status=JobStatus.COMPLETED, attempt=2).count() == 3,
        30, 0.1, "the retried jobs to run",
    )  # fmt: skip
