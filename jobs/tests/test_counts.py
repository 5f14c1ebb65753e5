"""Counts that stay cheap as the table grows: PostgreSQL's triggers keep them right through
every change a job goes through, and folding the deltas into the totals changes nothing a
reader sees."""

import re
from datetime import timedelta

import pytest
from django.db import connection

from jobs import selectors
from jobs.execution import tallies
from jobs.models import DURATION_BUCKETS, EVERYONE, Job, JobCountDelta, JobStatus, JobTallyDelta
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db


def _counted(owner_id=EVERYONE) -> dict[str, int]:
    return {status: n for status, n in selectors.counts_by_status(owner_id=owner_id).items() if n}


def _actual(**filters) -> dict[str, int]:
    statuses = Job.objects.filter(**filters).values_list("status", flat=True)
    return {status: list(statuses).count(status) for status in set(statuses)}


def test_counts_follow_every_change_of_status(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        done = creation.create_job(kind="random_text", params={"length": 2}, owner=owner)
        failed = creation.create_job(kind="random_text", params={"length": 2}, owner=owner)
        cancelled = creation.create_job(kind="sleep", params={"seconds": 1})
        creation.create_job(kind="sleep", params={"seconds": 1})
        lifecycle.complete_job(job=lifecycle.start_job(job_id=done.id), result="a b")
        lifecycle.fail_job(job=lifecycle.start_job(job_id=failed.id), error="boom")
        lifecycle.cancel_job(job=cancelled)
        failed.refresh_from_db()
        lifecycle.retry_job(job=failed)
    expected = {"completed": 1, "pending": 2, "cancelled": 1}
    assert _counted() == _actual() == expected
    assert _counted(owner.pk) == _actual(owner=owner) == {"completed": 1, "pending": 1}
    tallies.roll_up()
    assert not JobCountDelta.objects.exists()
    assert _counted() == expected
    assert _counted(owner.pk) == {"completed": 1, "pending": 1}


def test_deleting_jobs_and_their_owner_moves_the_counts(owner):
    creation.create_job(kind="random_text", params={"length": 2}, owner=owner)
    creation.create_job(kind="random_text", params={"length": 2}, owner=owner)
    tallies.roll_up()
    owner.delete()  # the jobs stay, owned by nobody
    assert _counted(owner.pk) == {}
    assert _counted() == {"pending": 2}
    Job.objects.filter(id=Job.objects.first().id).delete()
    tallies.roll_up()
    assert _counted() == {"pending": 1}


@pytest.mark.django_db(transaction=True)  # TRUNCATE waits for no deferred foreign-key check
def test_truncating_the_jobs_empties_the_counts():
    creation.create_job(kind="random_text", params={"length": 2})
    tallies.roll_up()
    creation.create_job(kind="random_text", params={"length": 2})
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Job._meta.db_table} CASCADE")
    assert _counted() == {}


def test_run_times_are_tallied_in_the_bucket_they_fit_under():
    job = creation.create_job(kind="sleep", params={"seconds": 1})
    started = lifecycle.start_job(job_id=job.id)
    Job.objects.filter(id=job.id).update(started_at=started.started_at - timedelta(seconds=3))
    started.refresh_from_db()
    lifecycle.complete_job(job=started, result={"slept": 1})
    tally = selectors.job_tallies()["sleep"]
    assert tally.created == 1 and tally.ended == {JobStatus.COMPLETED: 1}
    bucket = next(i for i, bound in enumerate(DURATION_BUCKETS) if bound >= 3)
    assert tally.buckets[bucket] == 1 and sum(tally.buckets) == 1
    assert 3 <= tally.seconds < 4
    tallies.roll_up()
    assert not JobTallyDelta.objects.exists()
    assert selectors.job_tallies()["sleep"] == tally


def test_a_job_cancelled_before_it_ran_is_counted_as_ended_but_not_timed():
    lifecycle.cancel_job(job=creation.create_job(kind="sleep", params={"seconds": 1}))
    tally = selectors.job_tallies()["sleep"]
    assert tally.ended == {JobStatus.CANCELLED: 1}
    assert sum(tally.buckets) == 0


@pytest.mark.parametrize("seconds", [0, *DURATION_BUCKETS, 0.0051, 1800.5, 86400])
def test_the_databases_buckets_are_those_of_the_code(seconds):
    with connection.cursor() as cursor:
        cursor.execute("SELECT jobs_duration_bucket(%s)", [seconds])
        bucket = cursor.fetchone()[0]
    expected = next((i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound), len(DURATION_BUCKETS))
    assert bucket == expected


def test_reading_the_counts_does_not_count_the_jobs(django_assert_max_num_queries):
    creation.create_job(kind="random_text", params={"length": 2})
    with django_assert_max_num_queries(1) as captured:
        selectors.counts_by_status(owner_id=EVERYONE)
    assert not re.search(rf"\b{Job._meta.db_table}\b", captured.captured_queries[0]["sql"])
