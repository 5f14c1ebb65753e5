"""jobs.rows writes new jobs without the ORM's per-field preparing: the rows it stores must be
those the ORM stores for the same jobs, every column of them."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from jobs import rows
from jobs.models import Job, JobStatus
from schedules.models import Schedule

pytestmark = pytest.mark.django_db

COLUMNS = ", ".join(f'"{field.column}"' for field in Job._meta.concrete_fields if field.attname != "id")


def _jobs(owner, schedule, later) -> list[Job]:
    """Jobs that between them give every column a value and leave each nullable one empty."""
    return [
        Job(type="random_text", params={"length": 3}),
        Job(type="sleep", params={"seconds": 0.5, "note": "é ☃ \"quoted\""}, owner=owner, client=f"user:{owner.pk}",
            callback_url="https://example.com/hook?a=1", priority="high", status=JobStatus.SCHEDULED, run_at=later,
            schedule=schedule, result={"nested": [1, None, "x"]}, error="an error", attempt=2, progress=40,
            worker_name="w-1", lost_count=1, started_at=later - timedelta(seconds=3), finished_at=later),
        Job(type="random_text", params={}, result="plain text"),
    ]  # fmt: skip


def _stored(ids) -> list[tuple]:
    """The stored rows of `ids`, in the order of `ids`."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "id", {COLUMNS} FROM "jobs_job" WHERE id = ANY(%s)', [list(ids)])
        found = {row[0]: row[1:] for row in cursor.fetchall()}
    return [found[job_id] for job_id in ids]


def _without_times(row: tuple) -> tuple:
    # created_at is "now" as each was written; the rest must match exactly.
    return tuple(value for name, value in zip(COLUMNS.split(", "), row, strict=True) if name != '"created_at"')


@pytest.mark.parametrize("write", ["one at a time", "a batch"])
def test_rows_written_here_are_those_the_orm_writes(write):
    owner = User.objects.create_user("rows-owner")
    schedule = Schedule.objects.create(owner=owner, name="nightly", cron="0 0 * * *", type="random_text")
    later = timezone.now() + timedelta(minutes=5)  # one instant for both sets of rows
    theirs = Job.objects.bulk_create(_jobs(owner, schedule, later))
    expected = [_without_times(row) for row in _stored([job.id for job in theirs])]
    Job.objects.filter(id__in=[job.id for job in theirs]).delete()  # a schedule's tick is unique
    ours = _jobs(owner, schedule, later)
    if write == "a batch":
        rows.insert_jobs(ours)
    else:
        for job in ours:
            rows.insert_job(job)
    assert all(not job._state.adding for job in ours)
    assert [_without_times(row) for row in _stored([job.id for job in ours])] == expected
    reread = Job.objects.in_bulk([job.id for job in ours])
    assert [reread[job.id].created_at for job in ours] == [job.created_at for job in ours]
