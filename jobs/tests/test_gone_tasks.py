"""A task that is gone (its app left BESPIN_APPS, its function renamed): its jobs stay readable
and say so, a job of it that reaches a worker fails with the reason, and a schedule of it is
turned off with the reason shown, never a 500 or an ERROR a tick (the triggers' part:
webhooks/tests/test_gone_task_triggers.py)."""

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job, JobStatus
from schedules import services as schedules
from schedules.models import Schedule

GONE = "reports.tasks.renamed_since"


@pytest.mark.django_db
def test_a_job_of_a_gone_task_stays_readable_and_says_so(api, owner, signed_in):
    job = Job.objects.create(type=GONE, params={"pages": 1}, owner=owner)
    api.force_authenticate(owner)
    assert api.get(f"/api/jobs/{job.id}").json()["type"] == GONE
    page = signed_in.get(reverse("job-detail", args=[job.id]))
    assert page.status_code == 200 and "no task of this name is loaded now" in page.content.decode()
    assert signed_in.get(reverse("job-list")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_job_of_a_gone_task_that_reaches_a_worker_fails_with_the_reason(run_worker, queue):
    job = Job.objects.create(type=GONE, params={})
    from jobs.execution import queue as queues

    queues.enqueue_job(job)
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "is no task loaded here" in job.error


@pytest.mark.django_db
def test_a_schedule_of_a_gone_task_is_turned_off_with_the_reason_shown(owner, signed_in, api, caplog):
    schedule = schedules.create_schedule(owner=owner, name="weekly", cron="* * * * *", type="random_text")
    Schedule.objects.filter(id=schedule.id).update(type=GONE, next_run_at=timezone.now() - timedelta(seconds=1))
    with caplog.at_level(logging.INFO):
        assert schedules.start_due_schedules() == []
        assert schedules.start_due_schedules(now=timezone.now() + timedelta(minutes=5)) == []
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.next_run_at) == (False, None)
    assert "unknown job type" in schedule.disabled_reason and GONE in schedule.disabled_reason
    assert [r.levelname for r in caplog.records if "schedule_disabled" in r.getMessage()] == ["WARNING"]  # once
    assert not Job.objects.exists()
    page = signed_in.get(reverse("schedule-detail", args=[schedule.id])).content.decode()
    assert "data-disabled-reason" in page and GONE in page
    api.force_authenticate(owner)
    assert GONE in api.get(f"/api/schedules/{schedule.id}").json()["disabled_reason"]
