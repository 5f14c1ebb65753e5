"""Schedules are limited as jobs are: at most BESPIN_USER_MAX_SCHEDULES a user (409 past it,
on every way in), creating and changing them counts against the creation rate, and each job a
tick starts is its owner's unfinished job: a tick that finds the owner's cap full starts
nothing and is counted as skipped, with why."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bespin.testing.processes import wait_for
from bespin.testing.threads import at_once
from jobs.callers import caller_for_user
from jobs.models import Job, JobStatus
from jobs.services import creation, lifecycle
from schedules import services
from schedules.cron import latest_tick
from schedules.models import Schedule

# The workers this module starts: a user may have two unfinished jobs.
PROCESS_ENV = {"BESPIN_USER_MAX_UNFINISHED": "2"}
YEARLY = "0 0 1 1 *"  # no tick of its own comes while a test runs: ticks are made due by hand


def _body(n=0):
    return {"name": f"s{n}", "cron": "0 3 * * *", "type": "sleep", "params": {"seconds": 1}}


@pytest.mark.django_db
def test_past_the_most_schedules_a_user_may_have_creating_one_is_409(api, owner, stranger, settings):
    settings.USER_MAX_SCHEDULES = 3
    api.force_authenticate(owner)
    assert [api.post("/api/schedules", _body(n), format="json").status_code for n in range(3)] == [201] * 3
    refused = api.post("/api/schedules", _body(3), format="json")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "you already have 3 schedules, the most one user may have: delete one first"
    }  # fmt: skip
    api.force_authenticate(stranger)
    assert api.post("/api/schedules", _body(), format="json").status_code == 201  # each user their own
    # Deleting one makes room.
    api.force_authenticate(owner)
    api.delete(f"/api/schedules/{Schedule.objects.filter(owner=owner).first().id}")
    assert api.post("/api/schedules", _body(4), format="json").status_code == 201
    assert Schedule.objects.filter(owner=owner).count() == 3


@pytest.mark.django_db
def test_the_dashboard_and_the_admin_keep_to_it_too(signed_in, admin_client, owner, settings):
    settings.USER_MAX_SCHEDULES = 1
    form = {"name": "a", "cron": "0 3 * * *", "timezone": "UTC", "type": "sleep", "params": '{"seconds": 1}',
            "enabled": "on"}  # fmt: skip
    assert signed_in.post(reverse("schedule-create"), form).status_code == 302
    refused = signed_in.post(reverse("schedule-create"), form)
    assert refused.status_code == 409
    assert "You already have 1 schedules, the most one user may have" in refused.content.decode()
    admin_form = {**form, "owner": owner.pk, "priority": ""}
    page = admin_client.post(reverse("admin:schedules_schedule_add"), admin_form)
    assert page.status_code == 200 and "they already have 1 schedules" in page.content.decode()
    assert Schedule.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_never_pass_the_most(owner, settings):
    settings.USER_MAX_SCHEDULES = 5

    def create() -> bool:
        try:
            services.create_schedule(owner=owner, name="n", cron="0 3 * * *", type="sleep", params={"seconds": 1})
        except services.TooManySchedules:
            return False
        return True

    assert sorted(at_once(create, 12)) == [False] * 7 + [True] * 5
    assert Schedule.objects.count() == 5


@pytest.mark.django_db
def test_creating_and_changing_schedules_count_against_the_creation_rate(api, signed_in, owner, settings):
    settings.THROTTLE_USER = "3/min"
    api.force_authenticate(owner)
    created = api.post("/api/schedules", _body(), format="json")
    assert api.patch(f"/api/schedules/{created.json()['id']}", {"name": "b"}, format="json").status_code == 200
    assert api.get("/api/schedules").status_code == 200  # reading is not counted
    edit = signed_in.post(reverse("schedule-edit", args=[created.json()["id"]]), {**_body(), "params": "{}"})
    assert edit.status_code != 429
    refused = api.post("/api/schedules", _body(1), format="json")
    assert refused.status_code == 429 and refused["Retry-After"]
    assert api.patch(f"/api/schedules/{created.json()['id']}", {"name": "c"}, format="json").status_code == 429
    assert signed_in.post(reverse("schedule-create"), {**_body(), "params": "{}"}).status_code == 429
    assert Schedule.objects.count() == 1


def _fill_cap(owner, count):
    """`count` unfinished jobs of the owner's, made as the API makes them (scheduled for later)."""
    return [
        creation.create_job(kind="sleep", params={"seconds": 1}, caller=caller_for_user(owner), timing={"delay": 3600})
        for _ in range(count)
    ]


@pytest.mark.django_db
def test_a_tick_that_finds_the_owners_cap_full_is_skipped_and_counted(owner, settings):
    settings.USER_MAX_UNFINISHED = 2
    schedule = services.create_schedule(owner=owner, name="n", cron="* * * * *", type="sleep", params={"seconds": 1})
    held = _fill_cap(owner, 2)
    now = timezone.now()
    Schedule.objects.filter(id=schedule.id).update(next_run_at=now - timedelta(seconds=1))
    assert services.start_due_schedules(now=now) == []
    schedule.refresh_from_db()
    assert schedule.skipped_ticks == 1 and schedule.next_run_at > now  # on to its next tick
    assert "started no job: you already have 2 jobs pending or running" in schedule.last_skip_reason
    assert not Job.objects.filter(schedule=schedule).exists()
    # A slot frees: the next tick starts its job, which holds the slot as the owner's.
    lifecycle.cancel_job(job=held[0])
    later = schedule.next_run_at
    (job,) = services.start_due_schedules(now=later)
    assert job.client == f"user:{owner.pk}"
    with pytest.raises(creation.TooManyUnfinished):
        _fill_cap(owner, 1)
    assert Schedule.objects.get(id=schedule.id).skipped_ticks == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_workers_clock_skips_a_tick_past_the_cap_and_runs_the_next(processes, owner):
    schedule = services.create_schedule(owner=owner, name="n", cron=YEARLY, type="random_text", params={"length": 2})
    held = _fill_cap(owner, 2)  # the workers' cap is 2 (PROCESS_ENV)
    processes.worker()
    tick = latest_tick(cron=YEARLY, tz="UTC", at=timezone.now())
    Schedule.objects.filter(id=schedule.id).update(next_run_at=tick)
    wait_for(lambda: Schedule.objects.get(id=schedule.id).skipped_ticks == 1, 20, 0.1, "the tick to be skipped")
    assert not Job.objects.filter(schedule=schedule).exists()
    lifecycle.cancel_job(job=held[0])
    Schedule.objects.filter(id=schedule.id).update(next_run_at=tick)  # due again, as the next tick would be
    done = wait_for(
        lambda: Job.objects.filter(schedule=schedule, status=JobStatus.COMPLETED).first(), 20, 0.1, "the tick's job"
    )
    assert len(done.result.split()) == 2
    assert Schedule.objects.get(id=schedule.id).skipped_ticks == 1
