"""Run later: `run_at` or `delay` make a job `scheduled`, held in PostgreSQL only, until the
clock's promotion makes it pending and enqueues it; a time past runs it now; too far ahead,
no offset, or both at once is a 400 naming the field."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bespin.testing.listening import messages_during
from jobs import events, selectors
from jobs.execution import clock, queue, tallies
from jobs.models import EVERYONE, Job, JobStatus
from jobs.services import lifecycle

pytestmark = pytest.mark.django_db


def _queued() -> list[str]:
    return [entry for name in queue.QUEUE_NAMES for entry in queue.rq_queue(name).job_ids]


def _post(api, **body):
    return api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 1}, **body}, format="json")


def test_a_job_with_a_delay_is_scheduled_at_now_plus_the_delay_and_not_enqueued(
    api, django_capture_on_commit_callbacks
):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api, delay=90)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "scheduled"
    run_at = parse_datetime(body["run_at"])
    assert before + timedelta(seconds=90) <= run_at <= timezone.now() + timedelta(seconds=90)
    assert Job.objects.get(id=body["id"]).status == JobStatus.SCHEDULED
    assert _queued() == []


def test_a_job_with_run_at_ahead_is_scheduled_for_that_time(api):
    when = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    body = _post(api, run_at=when.astimezone(timezone.get_fixed_timezone(120)).isoformat()).json()
    assert (body["status"], parse_datetime(body["run_at"])) == ("scheduled", when)


def test_a_run_at_already_past_runs_now(api, django_capture_on_commit_callbacks):
    when = timezone.now() - timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        body = _post(api, run_at=when.isoformat()).json()
    assert body["status"] == "pending"
    assert parse_datetime(body["run_at"]) == when
    assert _queued() == [f"{body['id']}_1"]


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({"run_at": "2099-01-01T09:00:00"}, "run_at", "offset"),
        ({"run_at": "tomorrow"}, "run_at", "Datetime has wrong format"),
        ({"run_at": timezone.now().isoformat(), "delay": 5}, "delay", "not both"),
        ({"delay": -1}, "delay", "greater than or equal to 0"),
        ({"delay": 31 * 24 * 3600}, "delay", "BESPIN_MAX_DELAY"),
        ({"run_at": (timezone.now() + timedelta(days=31)).isoformat()}, "run_at", "BESPIN_MAX_DELAY"),
        ({"priority": "urgent"}, "priority", "not a valid choice"),
    ],
)
def test_bad_timing_is_400_naming_the_field(api, extra, field, says):
    response = _post(api, **extra)
    assert response.status_code == 400
    body = response.json()
    assert field in body["fields"] and says in " ".join(body["fields"][field]), body
    assert not Job.objects.exists()


def test_the_longest_delay_follows_the_setting(api, settings):
    settings.MAX_DELAY = timedelta(minutes=1)
    assert _post(api, delay=61).status_code == 400
    assert _post(api, delay=60).status_code == 201


def test_the_batch_takes_timing_per_entry_and_names_a_bad_one_by_its_index(
    api, owner, django_capture_on_commit_callbacks
):
    api.force_authenticate(owner)  # high priority is for signed-in callers
    entries = [
        {"type": "random_text", "params": {"length": 2}},
        {"type": "random_text", "params": {"length": 2}, "delay": 600, "priority": "high"},
        {"type": "random_text", "params": {"length": 2}, "priority": "low"},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        jobs = api.post("/api/jobs/batch", {"jobs": entries}, format="json").json()["jobs"]
    assert [(job["status"], job["priority"]) for job in jobs] == [
        ("pending", "default"), ("scheduled", "high"), ("pending", "low"),
    ]  # fmt: skip
    assert queue.rq_queue("default").job_ids == [f"{jobs[0]['id']}_1"]
    assert queue.rq_queue("low").job_ids == [f"{jobs[2]['id']}_1"]
    assert queue.rq_queue("high").job_ids == []
    bad = api.post("/api/jobs/batch", {"jobs": [entries[0], {**entries[0], "run_at": "2099-01-01"}]}, format="json")
    assert bad.status_code == 400 and "run_at" in bad.json()["fields"]["jobs"]["1"]


def test_a_scheduled_job_is_cancelled_and_never_promoted(api):
    job_id = _post(api, delay=0.2).json()["id"]
    response = api.post(f"/api/jobs/{job_id}/cancel")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert lifecycle.promote_due_jobs(now=timezone.now() + timedelta(seconds=5)) == []
    assert Job.objects.get(id=job_id).status == JobStatus.CANCELLED


def test_promotion_moves_only_due_jobs_enqueues_them_on_their_queue_and_tells_watchers(
    api, owner, django_capture_on_commit_callbacks
):
    api.force_authenticate(owner)  # high priority is for signed-in callers
    due = _post(api, delay=30, priority="high").json()["id"]
    later = _post(api, delay=3600).json()["id"]

    def promote():
        with django_capture_on_commit_callbacks(execute=True):
            return lifecycle.promote_due_jobs(now=timezone.now() + timedelta(seconds=31))

    promoted = []
    messages = messages_during(events.job_group(due), lambda: promoted.extend(promote()))
    assert [str(job.id) for job in promoted] == [due]
    assert Job.objects.get(id=due).status == JobStatus.PENDING
    assert Job.objects.get(id=later).status == JobStatus.SCHEDULED
    assert queue.rq_queue("high").job_ids == [f"{due}_1"]
    assert [m["status"] for m in messages] == ["pending"]


def test_the_clock_promotes_in_batches_until_none_is_due(api, monkeypatch):
    monkeypatch.setattr(clock, "PROMOTE_BATCH", 2)
    past = (timezone.now() - timedelta(seconds=1)).isoformat()
    ids = [_post(api, delay=60).json()["id"] for _ in range(5)]
    Job.objects.filter(id__in=ids).update(run_at=past)
    assert clock.run_clock().promoted == 5
    assert set(Job.objects.filter(id__in=ids).values_list("status", flat=True)) == {JobStatus.PENDING}


def test_scheduled_jobs_are_counted_as_scheduled_and_as_unfinished(api, settings):
    settings.ANON_MAX_UNFINISHED = 2
    assert _post(api, delay=600).status_code == 201
    assert _post(api, delay=600).status_code == 201
    refused = _post(api, delay=600)
    assert refused.status_code == 429 and "scheduled" in refused.json()["error"]
    tallies.roll_up()
    assert selectors.counts_by_status(owner_id=EVERYONE)["scheduled"] == 2


def test_an_idempotent_replay_with_a_delay_gives_the_first_job(api):
    first = api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 1}, "delay": 60}, format="json",
                     HTTP_IDEMPOTENCY_KEY="later-1")  # fmt: skip
    again = api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 1}, "delay": 60}, format="json",
                     HTTP_IDEMPOTENCY_KEY="later-1")  # fmt: skip
    other = api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 1}, "delay": 61}, format="json",
                     HTTP_IDEMPOTENCY_KEY="later-1")  # fmt: skip
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)
    assert again.json()["id"] == first.json()["id"]
