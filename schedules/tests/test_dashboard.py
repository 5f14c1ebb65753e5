"""The dashboard's side of scheduling and flow control, all as plain forms and links: start a
job later or at a priority, see scheduled jobs with their time, manage schedules, cancel
selected jobs and retry every failed one after a confirmation."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job, JobStatus
from schedules import services
from schedules.models import Schedule

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    return response.content.decode()


def test_a_job_started_from_its_form_with_a_delay_is_scheduled_and_listed_with_its_time(signed_in, queue):
    response = signed_in.post(
        reverse("job-start"), {"kind": "sleep", "seconds": "1", "delay": "120", "priority": "high"}, follow=True
    )
    job = Job.objects.get()
    assert (job.status, job.priority) == (JobStatus.SCHEDULED, "high")
    page = _page(response)
    assert "Scheduled sleep job" in page and f"{job.run_at:%Y-%m-%d %H:%M:%S} UTC" in page
    assert f'datetime="{job.run_at.isoformat()}"' in page
    assert "status-scheduled" in page and "priority-high" in page
    assert queue.job_ids == []


def test_the_run_at_input_is_read_as_utc(signed_in):
    when = (timezone.now() + timedelta(hours=1)).replace(second=0, microsecond=0)
    signed_in.post(reverse("job-start"), {"kind": "sleep", "seconds": "1", "run_at": f"{when:%Y-%m-%dT%H:%M}"})
    assert Job.objects.get().run_at == when


def test_a_bad_time_is_shown_beside_its_input(signed_in):
    response = signed_in.post(reverse("job-start"), {"kind": "sleep", "seconds": "1", "run_at": "soon", "delay": "1"})
    assert response.status_code == 400
    page = _page(response)
    assert 'id="sleep-run_at-error"' in page and 'aria-invalid="true"' in page
    assert not Job.objects.exists()


def test_a_scheduled_jobs_page_shows_when_it_is_due_and_lets_its_owner_cancel_it(signed_in, owner):
    signed_in.post(reverse("job-start"), {"kind": "sleep", "seconds": "1", "delay": "600"})
    job = Job.objects.get()
    page = _page(signed_in.get(reverse("job-detail", args=[job.id])))
    assert "Due" in page and "scheduled: waiting for its time" in page and "Cancel job" in page
    signed_in.post(reverse("job-cancel", args=[job.id]))
    assert Job.objects.get().status == JobStatus.CANCELLED


def test_the_overview_counts_scheduled_jobs(signed_in):
    signed_in.post(reverse("job-start"), {"kind": "sleep", "seconds": "1", "delay": "600"})
    page = _page(signed_in.get(reverse("dashboard")))
    assert '<span class="count" data-count="scheduled">1</span>' in page
    assert f"{reverse('job-list')}?status=scheduled" in page


def test_schedules_are_made_seen_changed_and_deleted_from_their_pages(signed_in, owner):
    assert 'href="/schedules/"' in _page(signed_in.get(reverse("dashboard")))
    created = signed_in.post(
        reverse("schedule-create"),
        {"name": "hourly", "cron": "0 * * * *", "timezone": "UTC", "type": "sleep", "params": '{"seconds": 1}',
         "enabled": "on"},
    )  # fmt: skip
    schedule = Schedule.objects.get()
    assert created["Location"] == reverse("schedule-detail", args=[schedule.id])
    listed = _page(signed_in.get(reverse("schedule-list")))
    assert "hourly" in listed and f"{schedule.next_run_at:%Y-%m-%d %H:%M}" in listed
    Schedule.objects.filter(id=schedule.id).update(next_run_at=timezone.now() - timedelta(minutes=1))
    (job,) = services.start_due_schedules()
    detail = _page(signed_in.get(reverse("schedule-detail", args=[schedule.id])))
    assert str(job.id)[:8] in detail and "Next runs" in detail and "Last run" in detail
    signed_in.post(
        reverse("schedule-edit", args=[schedule.id]),
        {"name": "hourly", "cron": "30 * * * *", "timezone": "UTC", "type": "sleep", "params": '{"seconds": 1}'},
    )
    schedule.refresh_from_db()
    assert (schedule.cron, schedule.enabled, schedule.next_run_at) == ("30 * * * *", False, None)
    signed_in.post(reverse("schedule-delete", args=[schedule.id]))
    assert not Schedule.objects.exists() and Job.objects.get(id=job.id).schedule_id is None


def test_a_schedules_page_shows_its_parameters_as_json(signed_in, owner):
    schedule = services.create_schedule(owner=owner, name="five", cron="0 * * * *", type="random_text",
                                        params={"length": 5})  # fmt: skip
    page = html.unescape(_page(signed_in.get(reverse("schedule-detail", args=[schedule.id]))))
    assert '<code>random_text</code> with <code>{"length": 5}</code>' in page
    assert "{'length': 5}" not in page


def test_a_bad_cron_expression_is_shown_beside_its_input(signed_in):
    response = signed_in.post(
        reverse("schedule-create"), {"name": "x", "cron": "61 * * * *", "timezone": "Nowhere", "type": "sleep",
                                     "params": '{"seconds": 1}'},
    )  # fmt: skip
    assert response.status_code == 400
    page = _page(response)
    assert 'id="id_cron_error"' in page and "bad minute" in page
    assert 'id="id_timezone_error"' in page and "not an IANA time zone" in page
    assert not Schedule.objects.exists()


def test_someone_elses_schedule_is_a_404(client, stranger, owner):
    schedule = services.create_schedule(owner=owner, name="mine", cron="0 * * * *", type="random_text")
    client.force_login(stranger)
    assert client.get(reverse("schedule-detail", args=[schedule.id])).status_code == 404
    assert client.post(reverse("schedule-delete", args=[schedule.id])).status_code == 404
    assert "mine" not in _page(client.get(reverse("schedule-list")))


def test_cancel_selected_asks_first_then_cancels_only_those(signed_in, owner, make_job):
    chosen, other = make_job(owner=owner), make_job(owner=owner)
    page = _page(signed_in.get(reverse("job-list")))
    assert f'name="ids" value="{chosen.id}" form="bulk-form"' in page
    asked = signed_in.post(reverse("jobs-bulk"), {"action": "cancel", "ids": [str(chosen.id)]})
    assert asked.status_code == 200 and "Cancel the 1 selected job?" in _page(asked)
    assert Job.objects.get(id=chosen.id).status == JobStatus.PENDING
    done = signed_in.post(reverse("jobs-bulk"), {"action": "cancel", "ids": [str(chosen.id)], "confirmed": "1"},
                          follow=True)  # fmt: skip
    assert "Cancelled 1 job." in _page(done)
    assert [Job.objects.get(id=j.id).status for j in (chosen, other)] == ["cancelled", "pending"]


@pytest.mark.parametrize("selected", [1, 2])
def test_the_cancel_confirmation_answers_in_the_number_it_asks_in(signed_in, owner, make_job, selected):
    ids = [str(make_job(owner=owner).id) for _ in range(selected)]
    page = _page(signed_in.post(reverse("jobs-bulk"), {"action": "cancel", "ids": ids}))
    question, answer = {1: ("Cancel the 1 selected job?", "Yes, cancel it"),
                        2: ("Cancel the 2 selected jobs?", "Yes, cancel them")}[selected]  # fmt: skip
    assert question in page
    assert re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', page)[-1] == answer


@pytest.mark.parametrize("failed", [1, 2])
def test_the_retry_confirmation_answers_in_the_number_it_asks_in(signed_in, owner, make_job, failed):
    for _ in range(failed):
        make_job(owner=owner, state="failed")
    page = _page(signed_in.post(reverse("jobs-bulk"), {"action": "retry-failed"}))
    question, answer = {1: ("Retry all 1 failed job?", "Yes, retry it"),
                        2: ("Retry all 2 failed jobs?", "Yes, retry them")}[failed]  # fmt: skip
    assert question in page
    assert re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', page)[-1] == answer


def test_cancel_with_nothing_selected_changes_nothing(signed_in, owner, make_job):
    make_job(owner=owner)
    response = signed_in.post(reverse("jobs-bulk"), {"action": "cancel"}, follow=True)
    assert "select the jobs to cancel first" in _page(response)
    assert Job.objects.get().status == JobStatus.PENDING


def test_retry_all_failed_asks_first_then_retries_every_failed_job_of_the_type(signed_in, owner, stranger, make_job):
    mine = [make_job(owner=owner, state="failed") for _ in range(2)]
    sleeping = make_job(kind="sleep", params={"seconds": 1}, owner=owner, state="failed")
    theirs = make_job(owner=stranger, state="failed")
    asked = signed_in.post(reverse("jobs-bulk"), {"action": "retry-failed", "type": "random_text"})
    assert "Retry all 2 failed random_text jobs?" in _page(asked)
    signed_in.post(reverse("jobs-bulk"), {"action": "retry-failed", "type": "random_text", "confirmed": "1"})
    assert [Job.objects.get(id=j.id).attempt for j in (*mine, sleeping, theirs)] == [2, 2, 1, 1]
