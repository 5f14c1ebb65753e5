"""The overview page: counts by status, the last hour's charts, queue and workers, latest jobs."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs import selectors

pytestmark = pytest.mark.django_db


def _count(page: str, status: str) -> int:
    return int(re.search(rf'data-count="{status}">(\d+)<', page).group(1))


def test_counts_are_of_the_users_own_jobs_by_status(client, owner, stranger, make_job):
    make_job(owner=owner)
    make_job(owner=owner, state="completed")
    make_job(owner=owner, state="failed")
    make_job(owner=stranger, state="cancelled")
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    counts = {s: _count(page, s) for s in ("pending", "running", "completed", "failed", "cancelled")}
    assert counts == {"pending": 1, "running": 0, "completed": 1, "failed": 1, "cancelled": 0}


def test_staff_counts_every_job(client, owner, stranger, staff, make_job):
    make_job(owner=owner, state="cancelled")
    make_job(owner=stranger, state="cancelled")
    make_job(state="cancelled")
    client.force_login(staff)
    assert _count(client.get(reverse("dashboard")).content.decode(), "cancelled") == 3


def test_status_counts_link_to_the_filtered_job_list(client, owner):
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("job-list")}?status=failed"' in page


def test_failure_rate_and_jobs_per_minute_cover_the_last_hour(client, owner, make_job):
    for state in ("completed", "failed", "failed"):
        make_job(owner=owner, state=state)
    make_job(owner=owner, state="cancelled")  # neither processed nor failed
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert "3 finished in the last hour" in page
    assert "67% in the last hour (2 of 3 failed)" in page
    bars = re.findall(r"<title>\d\d:\d\d UTC: (\d+) finished, (\d+) failed</title>", page)
    assert [sum(int(b[i]) for b in bars) for i in (0, 1)] == [3, 2]


def test_charts_say_so_when_nothing_finished(client, owner):
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert "0 finished in the last hour" in page
    assert "no jobs finished in the last hour" in page
    assert "<rect" not in page


def test_minutes_are_sixty_buckets_oldest_first_and_old_jobs_drop_out(owner, make_job):
    make_job(owner=owner, state="completed")
    now = timezone.now()
    minutes = selectors.finished_per_minute(owner, now=now)
    assert len(minutes) == 60
    assert minutes[-1].start == now.replace(second=0, microsecond=0)
    assert [m.finished for m in minutes[:-1]] == [0] * 59
    assert (minutes[-1].finished, minutes[-1].failure_rate) == (1, 0.0)
    later = selectors.finished_per_minute(owner, now=now + timedelta(minutes=61))
    assert sum(m.finished for m in later) == 0


def test_another_users_jobs_are_not_in_the_charts(owner, stranger, make_job):
    make_job(owner=stranger, state="failed")
    assert sum(m.finished for m in selectors.finished_per_minute(owner)) == 0
    assert sum(m.failed for m in selectors.finished_per_minute(stranger)) == 1


def test_queue_depth_and_live_workers_are_shown(client, owner, make_job):
    make_job(owner=owner)
    make_job(owner=owner)
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert re.search(r"data-queue-depth>2<", page)
    assert re.search(r"data-workers>0<", page)
    assert "none running: jobs wait in the queue" in page


def test_latest_jobs_are_listed_newest_first(client, owner, stranger, make_job):
    first = make_job(owner=owner)
    second = make_job(kind="sleep", params={"seconds": 1}, owner=owner)
    hidden = make_job(owner=stranger)
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert page.index(f'data-job-id="{second.id}"') < page.index(f'data-job-id="{first.id}"')
    assert str(hidden.id) not in page


def test_the_page_follows_the_users_stream_and_staff_the_sites(client, owner, staff):
    client.force_login(owner)
    assert 'data-stream="/api/ws/jobs"' in client.get(reverse("dashboard")).content.decode()
    client.force_login(staff)
    assert 'data-stream="/api/ws/jobs?scope=site"' in client.get(reverse("dashboard")).content.decode()
