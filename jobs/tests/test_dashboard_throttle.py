"""The dashboard's start, cancel, retry and bulk actions count against the creation rate the
API has (BESPIN_THROTTLE_USER), in the same Redis counts: past it, 429 with a page saying
when to try again, and nothing changes."""

import pytest
from django.urls import reverse

from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db

START = {"kind": "sleep", "seconds": "1"}


def _refused(response) -> bool:
    page = response.content.decode()
    return response.status_code == 429 and int(response["Retry-After"]) >= 1 and "Try again in" in page


def test_starting_jobs_past_the_rate_is_429(signed_in, settings):
    settings.THROTTLE_USER = "3/min"
    assert [signed_in.post(reverse("job-start"), START).status_code for _ in range(3)] == [302] * 3
    assert _refused(signed_in.post(reverse("job-start"), START))
    assert Job.objects.count() == 3


def test_cancel_retry_and_bulk_share_the_count_with_the_api(signed_in, api, owner, settings):
    settings.THROTTLE_USER = "4/min"
    api.force_authenticate(owner)
    job_id = api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 1}}, format="json").json()["id"]
    assert signed_in.post(reverse("job-cancel", args=[job_id])).status_code == 302
    assert signed_in.post(reverse("job-retry", args=[job_id])).status_code == 302
    assert signed_in.post(reverse("job-cancel", args=[job_id])).status_code == 302
    # The API's creation and the dashboard's three changes have used the four.
    assert _refused(signed_in.post(reverse("job-retry", args=[job_id])))
    assert _refused(signed_in.post(reverse("jobs-bulk"), {"action": "retry-failed", "confirmed": "1"}))
    assert api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 1}}, format="json").status_code == 429
    assert Job.objects.get(id=job_id).status == JobStatus.CANCELLED


def test_looking_is_not_counted(signed_in, settings):
    settings.THROTTLE_USER = "1/min"
    for _ in range(3):
        assert signed_in.get(reverse("job-list")).status_code == 200
    assert signed_in.post(reverse("job-start"), START).status_code == 302
