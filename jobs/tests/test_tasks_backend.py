"""Bespin as the backend of Django's Tasks API: `enqueue()` creates a job (after the caller's
transaction commits), a real worker runs it, `get_result()` reads it; Django's errors, signals
and statuses as its API defines them."""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from bespin.testing.listening import messages_during
from examples.reports import tasks as reports
from jobs import events, registry
from jobs.compat import (
    InvalidTaskError,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_enqueued,
    task_finished,
    task_started,
)
from jobs.execution import runner
from jobs.models import Job, JobStatus
from jobs.services import lifecycle

pytestmark = pytest.mark.django_db(transaction=True)


def test_enqueue_creates_a_job_of_the_tasks_module_path_that_a_worker_runs(run_worker):
    result = reports.summarize.enqueue("one two three", tags=["b", "a", "b"])
    job = Job.objects.get(id=result.id)
    assert (job.type, job.status) == ("examples.reports.tasks.summarize", JobStatus.PENDING)
    assert job.params == {"text": "one two three", "tags": ["b", "a", "b"], "weights": {}}  # defaults filled in
    assert result.status == TaskResultStatus.READY and result.attempts == 0
    run_worker()
    done = reports.summarize.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == {"words": 3, "tags": ["a", "b"], "weight": 0}
    assert done.attempts == 1 and len(done.worker_ids) == 1 and done.errors == []
    assert done.started_at <= done.finished_at and done.last_attempted_at == done.started_at


def test_inside_a_transaction_the_job_exists_only_if_it_commits_and_is_queued_after(queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = reports.rebuild_index.enqueue(batch=5)
        raise RuntimeError("the caller's work failed")
    assert not Job.objects.filter(id=rolled_back.id).exists()
    with transaction.atomic():
        committed = reports.rebuild_index.enqueue(batch=5)
        assert queue.count == 0  # not before the commit: a worker would find no row
    assert queue.count == 1 and Job.objects.filter(id=committed.id).exists()


def test_what_is_not_json_or_not_in_the_signature_is_refused_at_enqueue():
    with pytest.raises(TypeError, match="Unsupported type"):
        reports.rebuild_index.enqueue(batch=datetime.date(2030, 1, 1))
    with pytest.raises(InvalidTaskError, match="unexpected keyword argument 'batchh'"):
        reports.rebuild_index.enqueue(batchh=5)
    with pytest.raises(InvalidTaskError, match="pages"):
        reports.send_report.enqueue(pages=500)  # past its declared bound
    assert not Job.objects.exists()


def test_run_after_priority_and_queue_name_map_onto_bespins(queue):
    later = timezone.now() + datetime.timedelta(hours=1)
    scheduled = Job.objects.get(id=reports.rebuild_index.using(run_after=later).enqueue().id)
    assert (scheduled.status, scheduled.run_at) == (JobStatus.SCHEDULED, later)
    assert Job.objects.get(id=reports.rebuild_index.using(priority=50).enqueue().id).priority == "high"
    assert Job.objects.get(id=reports.rebuild_index.using(priority=-1).enqueue().id).priority == "low"
    assert Job.objects.get(id=reports.rebuild_index.using(queue_name="low").enqueue().id).priority == "low"
    with pytest.raises(InvalidTaskError, match="Queue 'emails' is not valid"):
        reports.rebuild_index.using(queue_name="emails")


def test_a_failure_is_failed_with_the_exception_and_its_whole_traceback(run_worker, failing_kind, caplog):
    result = registry.get_kind("boom").task.enqueue()
    run_worker()
    failed = registry.get_kind("boom").task.get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    (error,) = failed.errors
    assert error.exception_class is RuntimeError
    assert 'raise RuntimeError("disk on fire")' in error.traceback
    job = Job.objects.get(id=result.id)
    assert job.error == "RuntimeError: disk on fire"
    # The worker logged it, traceback and all.
    assert any(r.getMessage().startswith("job_error") and r.exc_info for r in caplog.records)


def test_a_cancelled_job_is_failed_and_an_unknown_id_does_not_exist():
    result = reports.rebuild_index.enqueue()
    lifecycle.cancel_job(job=Job.objects.get(id=result.id))
    assert reports.rebuild_index.get_result(result.id).status == TaskResultStatus.FAILED
    for unknown in ("00000000-0000-4000-8000-000000000000", "not-an-id"):
        with pytest.raises(TaskResultDoesNotExist):
            reports.rebuild_index.get_result(unknown)


def test_djangos_three_signals_are_sent(run_worker):
    seen = []

    def record(sender, task_result, **kwargs):
        seen.append((kwargs["signal"], task_result.id, task_result.status))

    for signal in (task_enqueued, task_started, task_finished):
        signal.connect(record)
    try:
        result = reports.rebuild_index.enqueue(batch=3)
        run_worker()
    finally:
        for signal in (task_enqueued, task_started, task_finished):
            signal.disconnect(record)
    assert seen == [
        (task_enqueued, result.id, TaskResultStatus.READY),
        (task_started, result.id, TaskResultStatus.RUNNING),
        (task_finished, result.id, TaskResultStatus.SUCCESSFUL),
    ]


def test_a_coroutine_task_runs_in_the_worker(run_worker):
    result = reports.fetch_rates.enqueue(["EUR", "USD"])
    run_worker()
    done = reports.fetch_rates.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and set(done.return_value) == {"EUR", "USD"}


def test_the_context_has_the_job_its_owner_attempt_and_progress(run_worker, owner, monkeypatch):
    monkeypatch.setattr(runner, "PROGRESS_INTERVAL", 0)  # every report written
    result = reports.send_report.enqueue(pages=4)
    Job.objects.filter(id=result.id).update(owner=owner)  # as a signed-in caller's job is
    messages = messages_during(events.job_group(result.id), run_worker)
    done = reports.send_report.get_result(result.id).return_value
    assert done == {
        "period": "week", "pages": 4, "sent_to": "owner", "idempotency_key": f"report-{result.id}", "attempt": 1,
    }  # fmt: skip
    assert [m["progress"] for m in messages if m["status"] == "running"] == [0, 25, 50, 75, 99]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "examples.reports.tasks.rebuild_index", "params": {}}, "type"),  # code only
        ({"type": "examples.reports.tasks.send_report", "params": {"pagez": 2}}, "params"),
        ({"type": "examples.reports.tasks.send_report", "params": {"pages": "2"}}, "params"),
        ({"type": "examples.reports.tasks.send_report", "params": {"period": "year"}}, "params"),
        ({"type": "examples.reports.tasks.send_report", "dealy": 60}, "dealy"),
    ],
)
def test_the_api_offers_only_exposed_tasks_and_names_each_bad_field(api, owner, body, field):
    api.force_authenticate(owner)
    response = api.post("/api/jobs", body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"], response.json()
    assert not Job.objects.exists()


def test_an_exposed_task_is_started_from_the_api_by_its_module_path(api, owner, run_worker):
    api.force_authenticate(owner)
    body = {"type": "examples.reports.tasks.summarize", "params": {"text": "a b", "weights": {"x": 1.5}}}
    created = api.post("/api/jobs", body, format="json")
    assert created.status_code == 201, created.json()
    run_worker()
    assert api.get(f"/api/jobs/{created.json()['id']}").json()["result"] == {"words": 2, "tags": [], "weight": 1.5}


def test_anonymous_callers_get_only_the_tasks_open_to_them(api, settings):
    body = {"type": "examples.reports.tasks.summarize", "params": {"text": "a"}}
    refused = api.post("/api/jobs", body, format="json")
    assert refused.status_code == 400 and "anonymous" in refused.json()["fields"]["type"][0]
    assert set(api.get("/api/").json()["job_types"]) == {"random_text", "sleep"}
    settings.ANON_TASKS = frozenset({"examples.reports.tasks.summarize"})
    assert api.post("/api/jobs", body, format="json").status_code == 201


def test_misspelt_query_parameters_and_batch_fields_are_refused(api):
    assert api.post("/api/jobs/random-text?lenght=5").status_code == 400
    batch = {"jobs": [{"type": "random_text", "params": {"length": 2}, "dealy": 5}]}
    response = api.post("/api/jobs/batch", batch, format="json")
    assert response.status_code == 400 and "dealy" in response.json()["fields"]["jobs"]["0"]
