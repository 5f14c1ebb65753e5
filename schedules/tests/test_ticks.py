"""Each due tick of a schedule starts exactly one job, whichever and however many workers see
it due; after downtime the missed ticks run once, not once each. Clocks are injected where a
tick's time matters; real workers run the rest."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from bespin.testing.processes import wait_for
from bespin.testing.threads import at_once
from callbacks.services import rotate_callback_secret
from jobs import registry
from jobs.models import Job, JobStatus
from jobs.services import creation
from schedules import services
from schedules.cron import latest_tick, next_tick
from schedules.models import Schedule

NOW = datetime(2030, 5, 6, 12, 34, 56, tzinfo=UTC)


def _due(schedule: Schedule, when: datetime) -> None:
    """Set the schedule's next tick, as the clock would have left it that long ago."""
    Schedule.objects.filter(id=schedule.id).update(next_run_at=when)


@pytest.mark.django_db
def test_missed_ticks_after_downtime_run_once_for_the_latest(owner):
    schedule = services.create_schedule(owner=owner, name="every minute", cron="* * * * *", type="random_text")
    _due(schedule, NOW - timedelta(hours=3))  # 180 ticks missed while no worker ran
    (job,) = services.start_due_schedules(now=NOW)
    assert job.run_at == NOW.replace(second=0)  # the latest tick, 12:34
    assert (job.status, job.schedule_id, job.owner_id, job.type) == (JobStatus.PENDING, schedule.id, owner.id,
                                                                     "random_text")  # fmt: skip
    schedule.refresh_from_db()
    assert (schedule.last_run_at, schedule.next_run_at) == (NOW.replace(second=0), NOW.replace(second=0, minute=35))
    assert services.start_due_schedules(now=NOW + timedelta(seconds=3)) == []
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_ticks_job_takes_the_schedules_priority_and_callback(owner, settings):
    settings.CALLBACK_ALLOW_PRIVATE = True
    rotate_callback_secret(user=owner)
    told = services.create_schedule(
        owner=owner, name="told", cron="* * * * *", type="random_text", priority="high",
        callback_url="http://127.0.0.1:9/done",
    )  # fmt: skip
    plain = services.create_schedule(owner=owner, name="plain", cron="* * * * *", type="random_text")
    _due(told, NOW - timedelta(seconds=5))
    _due(plain, NOW - timedelta(seconds=5))
    jobs = {job.schedule_id: job for job in services.start_due_schedules(now=NOW)}
    assert (jobs[told.id].priority, jobs[told.id].callback_url) == ("high", "http://127.0.0.1:9/done")
    assert (jobs[plain.id].priority, jobs[plain.id].callback_url) == (registry.get_kind("random_text").priority, "")


@pytest.mark.django_db
def test_a_tick_not_due_yet_starts_nothing_and_a_disabled_schedule_never(owner):
    ahead = services.create_schedule(owner=owner, name="a", cron="0 * * * *", type="random_text")
    off = services.create_schedule(owner=owner, name="b", cron="* * * * *", type="random_text", enabled=False)
    Schedule.objects.filter(id=off.id).update(next_run_at=timezone.now() - timedelta(minutes=5))
    assert services.start_due_schedules() == []
    ahead.refresh_from_db()
    assert ahead.next_run_at > timezone.now()


@pytest.mark.django_db
def test_one_tick_can_start_only_one_job_even_past_the_lock(owner):
    # The row lock keeps two clocks off one schedule; the unique (schedule, run_at) is the
    # guard for whatever gets past it, such as a next_run_at set back by hand.
    schedule = services.create_schedule(owner=owner, name="n", cron="*/5 * * * *", type="random_text")
    _due(schedule, NOW.replace(minute=30, second=0))
    (first,) = services.start_due_schedules(now=NOW)
    _due(schedule, NOW.replace(minute=30, second=0))
    assert services.start_due_schedules(now=NOW) == []
    assert list(Job.objects.values_list("id", flat=True)) == [first.id]


@pytest.mark.django_db(transaction=True)
def test_clocks_racing_on_many_threads_start_each_tick_once(owner):
    due = [services.create_schedule(owner=owner, name=f"s{i}", cron="* * * * *", type="random_text") for i in range(5)]
    for schedule in due:
        _due(schedule, NOW - timedelta(minutes=10))

    def clock():
        for _ in range(3):
            services.start_due_schedules(now=NOW)

    at_once(clock, 6)
    runs = list(Job.objects.values_list("schedule_id", "run_at"))
    assert sorted(runs) == sorted((s.id, NOW.replace(second=0)) for s in due)


@pytest.mark.django_db
def test_a_schedule_whose_parameters_are_no_longer_valid_is_turned_off_with_the_reason(owner, settings):
    schedule = services.create_schedule(owner=owner, name="n", cron="* * * * *", type="sleep", params={"seconds": 60})
    settings.SLEEP_MAX_SECONDS = 10
    _due(schedule, NOW - timedelta(seconds=30))
    assert services.start_due_schedules(now=NOW) == []
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.next_run_at) == (False, None)
    assert "less than or equal to 10" in schedule.disabled_reason
    # Its owner fixes it and turns it on again: the reason goes, the next tick is computed.
    settings.SLEEP_MAX_SECONDS = 3600
    services.update_schedule(schedule=schedule, enabled=True)
    schedule.refresh_from_db()
    assert schedule.enabled and schedule.disabled_reason == "" and schedule.next_run_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_workers_start_a_due_tick_once_and_run_it(processes, owner):
    # Once a year, so that no tick of its own comes while the test runs: its last one is made
    # due by hand, as if the clock had just reached it.
    yearly = "0 0 1 1 *"
    schedule = services.create_schedule(owner=owner, name="n", cron=yearly, type="random_text", params={"length": 4})
    processes.worker()
    processes.worker()
    tick = latest_tick(cron=yearly, tz="UTC", at=timezone.now())
    _due(schedule, tick)
    done = wait_for(
        lambda: Job.objects.filter(schedule=schedule, status=JobStatus.COMPLETED).first(), 20, 0.1, "the tick's job"
    )
    schedule.refresh_from_db()
    assert (done.run_at, schedule.last_run_at) == (tick, tick)
    assert schedule.next_run_at == next_tick(cron=yearly, tz="UTC", after=tick)
    # Both workers' clocks go round a few more times: a job scheduled a second on has run.
    later = creation.create_job(kind="random_text", params={"length": 1}, timing={"delay": 1})
    wait_for(lambda: Job.objects.filter(id=later.id, status=JobStatus.COMPLETED).exists(), 20, 0.1, "a later job")
    processes.stop_all()
    assert Job.objects.filter(schedule=schedule).count() == 1
    assert len(done.result.split()) == 4
