"""The Tasks page's figures of the last hour: jobs finished and failed per task, and their run
times' p50 and p95, from the per-minute histograms PostgreSQL's trigger keeps (not from the
jobs), right before and after the deltas are folded in."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import selectors
from jobs.execution import tallies
from jobs.models import Job, TaskMinute, TaskMinuteDelta
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db


def _finish(kind: str, params: dict, *, seconds: float, fail: bool = False, ago: timedelta = timedelta()):
    """A job of `kind` that ran `seconds` and ended `ago` before now."""
    job = lifecycle.start_job(job_id=creation.create_job(kind=kind, params=params).id)
    ended = timezone.now() - ago
    Job.objects.filter(id=job.id).update(started_at=ended - timedelta(seconds=seconds))
    job.started_at = ended - timedelta(seconds=seconds)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: ended)
        if fail:
            lifecycle.fail_job(job=job, error="boom")
        else:
            lifecycle.complete_job(job=job, result="ok")


def test_each_tasks_last_hour_is_counted_with_the_buckets_of_its_run_times():
    for seconds in (0.02, 0.02, 0.02, 0.3, 4):  # buckets 0.025, 0.025, 0.025, 0.5, 5
        _finish("random_text", {"length": 1}, seconds=seconds)
    _finish("random_text", {"length": 1}, seconds=0.02, fail=True)
    _finish("sleep", {"seconds": 1}, seconds=1.2)
    _finish("sleep", {"seconds": 1}, seconds=1.2, ago=timedelta(hours=2))  # outside the hour
    expected = {
        "random_text": selectors.TaskFigures(finished=6, failed=1, p50=0.025, p95=5),
        "sleep": selectors.TaskFigures(finished=1, failed=0, p50=2.5, p95=2.5),
    }
    assert selectors.task_figures() == expected
    assert TaskMinuteDelta.objects.exists()
    tallies.roll_up()
    assert not TaskMinuteDelta.objects.exists() and TaskMinute.objects.exists()
    assert selectors.task_figures() == expected


def test_a_job_cancelled_before_it_ran_is_no_figure():
    job = creation.create_job(kind="sleep", params={"seconds": 1})
    lifecycle.cancel_job(job=job)
    assert selectors.task_figures() == {}


def test_minutes_past_what_is_kept_are_dropped_as_the_deltas_are_folded():
    _finish("sleep", {"seconds": 1}, seconds=1, ago=timedelta(minutes=tallies.MINUTES_KEPT + 5))
    tallies.roll_up()
    assert not TaskMinute.objects.exists()
