import pytest

from bespin.testing import tasks
from bespin.testing.processes import Processes, wait_for
from jobs.execution import heartbeats
from jobs.models import Job, JobStatus
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db(transaction=True)


def test_cancelling_a_pending_job_takes_it_off_the_queue(api, queue, run_worker):
    job = creation.create_job(kind="random_text", params={"length": 5})
    assert queue.count == 1
    response = api.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == JobStatus.CANCELLED
    assert queue.count == 0
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.CANCELLED, None)


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_cancelling_a_finished_job_is_409(api, run_worker, failing_kind, status):
    job = creation.create_job(kind="boom" if status == JobStatus.FAILED else "random_text", params={})
    if status == JobStatus.CANCELLED:
        lifecycle.cancel_job(job=job)
    else:
        run_worker()
    response = api.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 409
    assert response.json() == {"error": f"job is {status}; only scheduled, pending or running jobs can be cancelled",
                               "status": status}  # fmt: skip


def test_retrying_a_failed_job_runs_a_new_attempt(api, run_worker, failing_kind, register_task):
    job = creation.create_job(kind="boom", params={})
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    register_task(tasks.counted, "boom")  # the next attempt of `boom` runs what works
    response = api.post(f"/api/jobs/{job.id}/retry")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["attempt"], body["error"]) == ("pending", 2, "")
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.COMPLETED, 2)


def test_retrying_a_cancelled_job_runs_it(api, run_worker):
    job = creation.create_job(kind="random_text", params={"length": 3})
    lifecycle.cancel_job(job=job)
    assert api.post(f"/api/jobs/{job.id}/retry").status_code == 200
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.COMPLETED, 2)


@pytest.mark.parametrize("done", [False, True])
def test_retrying_a_pending_or_completed_job_is_409(api, run_worker, done):
    job = creation.create_job(kind="random_text", params={"length": 3})
    if done:
        run_worker()
    response = api.post(f"/api/jobs/{job.id}/retry")
    assert response.status_code == 409
    assert "only failed or cancelled" in response.json()["error"]


@pytest.mark.parametrize("path", ["cancel", "retry"])
def test_unknown_job_is_404_for_actions(api, path):
    assert api.post(f"/api/jobs/00000000-0000-0000-0000-000000000000/{path}").status_code == 404
    assert api.post(f"/api/jobs/not-an-id/{path}").status_code == 404


@pytest.mark.parametrize(
    ("who", "allowed"), [("owner", True), ("staff", True), ("teammate", False), ("stranger", False), (None, False)]
)
def test_only_owner_or_staff_may_cancel_an_owned_job(api, request, who, allowed, owner):
    job = creation.create_job(kind="random_text", params={}, owner=owner)
    if who:
        api.force_authenticate(request.getfixturevalue(who))
    response = api.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == (200 if allowed else 403)
    job.refresh_from_db()
    assert (job.status == JobStatus.CANCELLED) is allowed


def test_anyone_holding_the_id_may_cancel_an_anonymous_job(api, stranger):
    job = creation.create_job(kind="random_text", params={})
    api.force_authenticate(stranger)
    assert api.post(f"/api/jobs/{job.id}/cancel").status_code == 200


def test_stranger_may_not_retry_an_owned_job(api, owner, stranger):
    job = creation.create_job(kind="random_text", params={}, owner=owner)
    lifecycle.cancel_job(job=job)
    api.force_authenticate(stranger)
    assert api.post(f"/api/jobs/{job.id}/retry").status_code == 403
    job.refresh_from_db()
    assert job.attempt == 1


def test_cancelling_a_running_sleep_job_stops_its_handler(api, tmp_path):
    processes = Processes(tmp_path)
    try:
        worker = processes.worker()
        job = creation.create_job(kind="sleep", params={"seconds": 60})
        wait_for(lambda: Job.objects.get(id=job.id).status == JobStatus.RUNNING, 20, message="the job to start")
        response = api.post(f"/api/jobs/{job.id}/cancel")
        assert response.status_code == 200 and response.json()["status"] == JobStatus.CANCELLED
        # The handler notices at its next progress report and stops, long before its 60 s.
        wait_for(lambda: f"job_stopped job={job.id}" in processes.log_of(worker), 30, message="the handler to stop")
        # ...and the worker is free again: its heartbeat no longer names the job.
        idle = {worker.worker_name: heartbeats.IDLE}
        wait_for(lambda: heartbeats.running([worker.worker_name]) == idle, 10, message="the worker to be idle")
        job.refresh_from_db()
        assert (job.status, job.result) == (JobStatus.CANCELLED, None)
    finally:
        processes.stop_all()
