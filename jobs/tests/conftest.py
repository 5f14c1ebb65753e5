"""Fixtures of the jobs tests: jobs in each state, made through the services (the dashboard's
tests), and Bespin's processes started for a test."""

import pytest

from bespin.testing.processes import Processes
from jobs.services import creation, lifecycle


@pytest.fixture
def make_job(django_capture_on_commit_callbacks):
    """make_job(kind, params, owner, state): a job made by create_job and, past `pending`,
    moved on by the service calls a worker makes (start, complete or fail) or by cancel_job.
    Page tests run in a transaction that never commits, where a real worker cannot run."""

    def make(kind="random_text", params=None, owner=None, state="pending", result="cloud data", error="disk on fire"):
        # Nothing commits in a test transaction: run the after-commit enqueue and publish now.
        with django_capture_on_commit_callbacks(execute=True):
            job = creation.create_job(kind=kind, params=params if params is not None else {"length": 2}, owner=owner)
            if state in ("running", "completed", "failed"):
                job = lifecycle.start_job(job_id=job.id, worker_name="test-worker")
            if state == "completed":
                lifecycle.complete_job(job=job, result=result)
            elif state == "failed":
                lifecycle.fail_job(job=job, error=error)
            elif state == "cancelled":
                lifecycle.cancel_job(job=job)
        job.refresh_from_db()
        assert job.status == state
        return job

    return make


@pytest.fixture
def processes(tmp_path, request):
    """Bespin's processes (bespin.testing.processes) as the test starts them, all stopped after it;
    with the environment of the test module's PROCESS_ENV, if it has one."""
    started = Processes(tmp_path, **getattr(request.module, "PROCESS_ENV", {}))
    yield started
    started.stop_all()
