"""Run first: a job's priority (its own, or its kind's) picks its queue, and a worker started
as deployments start it (`rqworker default`) takes high, then default, then low."""

import json

import pytest
from django.conf import settings as django_settings
from rest_framework.authtoken.models import Token

from bespin.testing import tasks
from bespin.testing.processes import post_json, wait_for
from jobs.execution import queue, recovery
from jobs.models import Job, JobStatus
from jobs.services import creation

# What the processes this module starts run with (the `processes` fixture).
PROCESS_ENV = {"BESPIN_ANON_MAX_UNFINISHED": "0"}


def _create(priority=None, kind="random_text", params=None):
    params = {"length": 2} if params is None else params
    return creation.create_job(kind=kind, params=params, timing={"priority": priority} if priority else None)


@pytest.mark.django_db
@pytest.mark.parametrize("priority", ["high", "default", "low"])
def test_a_jobs_entry_goes_on_its_prioritys_queue(priority, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = _create(priority)
    assert job.priority == priority
    assert {name: queue.rq_queue(name).job_ids for name in queue.QUEUE_NAMES} == {
        name: [queue.rq_job_id(job)] if name == priority else [] for name in queue.QUEUE_NAMES
    }


@pytest.mark.django_db
def test_a_task_sets_the_default_priority_and_a_job_may_name_another(register_task):
    register_task(tasks.report, "report", priority=-10)  # Django's priorities below 0: low
    assert _create(kind="report", params={"pages": 1}).priority == "low"
    assert _create("high", kind="report", params={"pages": 1}).priority == "high"
    assert _create().priority == "default"


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_default_queue_takes_high_then_default_then_low(run_worker):
    jobs = [_create("low"), _create("default"), _create("high"), _create("low"), _create("high")]
    worker = run_worker()
    assert [q.name for q in worker.queues] == ["high", "default", "low"]
    order = list(Job.objects.filter(status=JobStatus.COMPLETED).order_by("started_at").values_list("id", flat=True))
    assert order == [jobs[2].id, jobs[4].id, jobs[1].id, jobs[0].id, jobs[3].id]


@pytest.mark.django_db
def test_a_pending_job_lost_from_its_queue_is_enqueued_on_it_again(
    redis_conn, settings, django_capture_on_commit_callbacks
):
    settings.ENQUEUE_GRACE_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        job = _create("high")
    assert recovery.recover_jobs().reenqueued == []  # on its queue: left alone
    redis_conn.delete(queue.rq_queue("high").key)
    assert [j.id for j in recovery.recover_jobs().reenqueued] == [job.id]
    assert queue.rq_queue("high").job_ids == [queue.rq_job_id(job)]


def test_every_priority_has_a_queue_in_the_settings():
    assert set(queue.QUEUE_NAMES) <= set(django_settings.RQ_QUEUES)


@pytest.mark.django_db(transaction=True)
def test_with_one_worker_and_50_low_jobs_waiting_a_new_high_job_starts_next(processes, owner):
    signed_in = {"Authorization": f"Token {Token.objects.create(user=owner).key}"}  # high is for signed-in callers
    base = processes.web()
    processes.worker()
    # Keeps the one worker busy while the rest is queued behind it.
    busy = post_json(base, "/api/jobs", json.dumps({"type": "sleep", "params": {"seconds": 1.5}}).encode())
    wait_for(lambda: Job.objects.filter(id=busy["id"], status=JobStatus.RUNNING).exists(), 20, message="busy")
    low = {"type": "random_text", "params": {"length": 5}, "priority": "low"}
    lows = post_json(base, "/api/jobs/batch", json.dumps({"jobs": [low] * 50}).encode())["jobs"]
    high = post_json(base, "/api/jobs", json.dumps({**low, "priority": "high"}).encode(), headers=signed_in)
    ids = [busy["id"], high["id"], *(job["id"] for job in lows)]
    wait_for(lambda: Job.objects.filter(id__in=ids, status=JobStatus.COMPLETED).count() == 52, 60, 0.1, "all")
    rows = {str(job.id): job for job in Job.objects.filter(id__in=ids)}
    # The high job came after all 50 low ones, while the worker was still busy...
    assert rows[high["id"]].created_at < rows[busy["id"]].finished_at
    # ...and started before every one of them.
    started = sorted(ids[1:], key=lambda job_id: rows[job_id].started_at)
    assert started[0] == high["id"], [rows[job_id].priority for job_id in started[:3]]
