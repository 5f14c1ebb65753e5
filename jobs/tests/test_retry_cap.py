"""A retry makes an unfinished job again, so it counts against the retrying caller's cap on
unfinished jobs like a creation: single and bulk, in the API and the dashboard, 429 (or the
dashboard's message) past it, and nothing changes."""

import pytest
from django.urls import reverse

from jobs.models import Job, JobStatus
from jobs.services import lifecycle

pytestmark = pytest.mark.django_db

SLEEP = {"type": "sleep", "params": {"seconds": 10}}  # never run: no worker here


def _create(api, count):
    ids = []
    for _ in range(count):
        response = api.post("/api/jobs", SLEEP, format="json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def _cancel_all(ids):
    for job in Job.objects.filter(id__in=ids):
        lifecycle.cancel_job(job=job)


def _unfinished():
    return Job.objects.exclude(status__in=[JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.COMPLETED]).count()


def test_create_cancel_create_then_retrying_one_is_429(api, owner, settings):
    settings.USER_MAX_UNFINISHED = 3
    api.force_authenticate(owner)
    first = _create(api, 3)
    _cancel_all(first)
    _create(api, 3)
    refused = api.post(f"/api/jobs/{first[0]}/retry")
    assert refused.status_code == 429
    assert "3 jobs pending or running" in refused.json()["error"] and refused["Retry-After"]
    assert Job.objects.get(id=first[0]).status == JobStatus.CANCELLED
    assert _unfinished() == 3


def test_a_retry_within_the_cap_runs_and_then_counts(api, owner, settings):
    settings.USER_MAX_UNFINISHED = 2
    api.force_authenticate(owner)
    first = _create(api, 2)
    _cancel_all(first)
    assert api.post(f"/api/jobs/{first[0]}/retry").status_code == 200
    assert _create(api, 1)
    assert api.post("/api/jobs", SLEEP, format="json").status_code == 429  # the retried job holds a slot


def test_bulk_retry_past_the_cap_retries_nothing(api, owner, settings):
    settings.USER_MAX_UNFINISHED = 5
    api.force_authenticate(owner)
    first = _create(api, 5)
    _cancel_all(first)
    _create(api, 2)
    for selection in ({"ids": first}, {"status": "cancelled"}):
        refused = api.post("/api/jobs/retry", selection, format="json")
        assert refused.status_code == 429, selection
    assert set(Job.objects.filter(id__in=first).values_list("status", flat=True)) == {JobStatus.CANCELLED}
    # Three fit: those three are retried.
    assert api.post("/api/jobs/retry", {"ids": first[:3]}, format="json").json()["changed"] == 3
    assert _unfinished() == 5


def test_an_anonymous_retry_counts_against_the_addresss_cap(api, settings):
    settings.ANON_MAX_UNFINISHED = 1
    first = _create(api, 1)
    _cancel_all(first)
    _create(api, 1)
    assert api.post(f"/api/jobs/{first[0]}/retry").status_code == 429
    assert api.post(f"/api/jobs/{first[0]}/retry", REMOTE_ADDR="198.51.100.9").status_code == 200


def test_the_dashboards_retries_count_too(client, api, owner, settings):
    settings.USER_MAX_UNFINISHED = 2
    api.force_authenticate(owner)
    client.force_login(owner)
    first = _create(api, 2)
    _cancel_all(first)
    _create(api, 2)
    Job.objects.filter(id=first[1]).update(status=JobStatus.FAILED)
    page = client.post(reverse("job-retry", args=[first[0]]), follow=True)
    assert "Nothing changed: you already have 2 jobs pending or running" in page.content.decode()
    page = client.post(reverse("jobs-bulk"), {"action": "retry-failed", "confirmed": "1"}, follow=True)
    assert "Nothing changed: you already have 2 jobs pending or running" in page.content.decode()
    assert _unfinished() == 2
