"""One job's page: its timeline, progress, result, error and parameters, and its buttons."""

import re
import uuid

import pytest
from django.urls import reverse

from jobs.dashboard import views
from jobs.models import Job
from jobs.services import lifecycle

pytestmark = pytest.mark.django_db


def _page(client, job) -> str:
    response = client.get(reverse("job-detail", args=[job.id]))
    assert response.status_code == 200
    return response.content.decode()


def _buttons(page: str) -> set[str]:
    return set(re.findall(r'action="/jobs/[0-9a-f-]+/(cancel|retry)"', page))


def test_a_completed_job_shows_timeline_result_and_parameters(client, owner, make_job):
    job = make_job(kind="random_text", params={"length": 2}, owner=owner, state="completed", result="cloud data")
    client.force_login(owner)
    page = _page(client, job)
    steps = re.findall(r'<span class="step-label">([^<]+)</span>', page)
    assert steps == ["Created", "Started", "Completed"]
    assert f"{job.finished_at:%Y-%m-%d %H:%M:%S}" in page and "on test-worker" in page
    assert re.search(r"after \d+\.\d\d s", page)
    assert '<pre class="result" id="result" tabindex="0">cloud data</pre>' in page
    assert "&quot;length&quot;: 2" in page
    assert 'data-copy="#result"' in page
    assert _buttons(page) == set()


def test_a_pending_job_waits_in_the_queue_and_can_be_cancelled(client, owner, make_job):
    job = make_job(owner=owner)
    client.force_login(owner)
    page = _page(client, job)
    assert "waiting in the queue" in page and "No result yet" in page
    assert _buttons(page) == {"cancel"}


def test_a_running_job_shows_its_progress_bar(client, owner, make_job):
    job = make_job(owner=owner, state="running")
    client.force_login(owner)
    page = _page(client, job)
    assert '<span class="progress" data-progress>' in page
    assert f'data-stream="/api/ws/jobs?job_id={job.id}"' in page


def test_a_running_jobs_progress_is_shown_once_by_the_bar_and_not_repeated_in_the_timeline(client, owner, make_job):
    job = make_job(owner=owner, state="running")
    assert lifecycle.set_progress(job=job, percent=20)
    client.force_login(owner)
    page = _page(client, job)
    bar = r'<progress max="100" value="20"[^>]*>20%</progress>\s*<span class="pct" data-progress-text>20%</span>'
    assert re.search(bar, page)
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S).group(1)
    assert "Finished" in timeline and "%" not in timeline


def test_a_failed_job_shows_its_error_and_can_be_retried(client, owner, make_job):
    job = make_job(owner=owner, state="failed", error="disk on fire")
    client.force_login(owner)
    page = _page(client, job)
    assert '<pre class="error" data-error>disk on fire</pre>' in page
    assert re.findall(r'<span class="step-label">([^<]+)</span>', page)[-1] == "Failed"
    assert _buttons(page) == {"retry"}


def test_a_structured_result_is_pretty_printed(client, owner, make_job):
    job = make_job(kind="sleep", params={"seconds": 0}, owner=owner, state="completed", result={"slept": 0})
    client.force_login(owner)
    assert "{\n  &quot;slept&quot;: 0\n}" in _page(client, job)


def test_a_long_result_is_cut_and_the_copy_button_fetches_all_of_it(client, owner, make_job):
    job = make_job(owner=owner, state="completed", result="word " * views.RESULT_PREVIEW_CHARS)
    client.force_login(owner)
    page = _page(client, job)
    assert f"Showing the first {views.RESULT_PREVIEW_CHARS} of {5 * views.RESULT_PREVIEW_CHARS} characters" in page
    assert f'data-copy-url="/api/jobs/{job.id}"' in page


def test_anyone_signed_in_may_read_a_job_by_id_but_only_its_owner_or_staff_get_buttons(
    client, owner, stranger, staff, make_job
):
    job = make_job(owner=owner)
    client.force_login(stranger)
    assert _buttons(_page(client, job)) == set()
    client.force_login(staff)
    assert _buttons(_page(client, job)) == {"cancel"}


@pytest.mark.parametrize("job_id", [uuid.uuid4(), "not-a-uuid"])
def test_an_unknown_job_is_404(client, owner, job_id):
    client.force_login(owner)
    assert client.get(f"/jobs/{job_id}").status_code == 404
    assert client.post(f"/jobs/{job_id}/cancel").status_code == 404


def test_the_owner_cancels_a_pending_job(client, owner, make_job):
    job = make_job(owner=owner)
    client.force_login(owner)
    response = client.post(reverse("job-cancel", args=[job.id]), follow=True)
    assert response.redirect_chain == [(reverse("job-detail", args=[job.id]), 302)]
    job.refresh_from_db()
    assert job.status == "cancelled"
    page = response.content.decode()
    assert "Job cancelled." in page and _buttons(page) == {"retry"}


def test_the_owner_retries_a_failed_job_as_a_new_attempt(client, owner, make_job, queue):
    job = make_job(owner=owner, state="failed")
    client.force_login(owner)
    response = client.post(reverse("job-retry", args=[job.id]), follow=True)
    job.refresh_from_db()
    assert (job.status, job.attempt) == ("pending", 2)
    assert "queued again as a new attempt" in response.content.decode()


def test_a_stranger_may_not_cancel_or_retry(client, owner, stranger, make_job):
    pending = make_job(owner=owner)
    failed = make_job(owner=owner, state="failed")
    client.force_login(stranger)
    assert client.post(reverse("job-cancel", args=[pending.id])).status_code == 403
    assert client.post(reverse("job-retry", args=[failed.id])).status_code == 403
    statuses = dict(Job.objects.values_list("id", "status"))
    assert (statuses[pending.id], statuses[failed.id]) == ("pending", "failed")


def test_cancelling_a_finished_job_changes_nothing_and_says_why(client, owner, make_job):
    job = make_job(owner=owner, state="completed")
    client.force_login(owner)
    response = client.post(reverse("job-cancel", args=[job.id]), follow=True)
    assert "Nothing changed: job is completed; only scheduled, pending or running jobs can be cancelled." in (
        response.content.decode()
    )
    job.refresh_from_db()
    assert job.status == "completed"


def test_the_buttons_are_plain_forms_that_need_no_javascript(client, owner, make_job):
    job = make_job(owner=owner)
    client.force_login(owner)
    page = _page(client, job)
    form = re.search(r'<form method="post" action="/jobs/[^"]+/cancel"[^>]*>(.*?)</form>', page, re.S).group(1)
    assert 'name="csrfmiddlewaretoken"' in form and 'type="submit"' in form
    assert client.get(reverse("job-cancel", args=[job.id])).status_code == 405
