"""Schedules: create, change and delete them, and start the jobs of their due ticks.

A schedule keeps its next tick (next_run_at) in PostgreSQL. The workers' clock (jobs.execution.clock)
calls start_due_schedules a few times a second; each due schedule gets one job for its
latest due tick, however many ticks passed while no worker ran (downtime runs a missed tick
once, not once per tick), and its next tick after now. Two workers never both start a tick:
the schedule's row is locked while its tick is started (others skip it), and the jobs'
unique (schedule, run_at) constraint refuses a second job for one tick whatever happens.

A tick's job is its owner's unfinished job like any other: it counts against their cap
(BESPIN_USER_MAX_UNFINISHED), and a tick that finds the cap full starts nothing; the
schedule counts it as skipped, with why, and moves on to its next tick. A user has at most
BESPIN_USER_MAX_SCHEDULES schedules.

Cron expressions are read by schedules.cron.
"""

import logging
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.timezone import now as utcnow
from rest_framework import serializers

from bespin.lib.errors import first_message
from jobs import extensions, registry
from jobs.callers import caller_for_user
from jobs.models import Job, JobStatus, Priority
from jobs.services import caps
from jobs.services.lifecycle import announce_many
from schedules.cron import latest_tick, next_tick, validate_cron, validate_timezone
from schedules.models import Schedule

log = logging.getLogger("bespin.jobs")

# Schedules one clock round starts at most; more wait for the next round, a moment later.
MAX_DUE = 100
# Namespaces the advisory lock taken per owner while their schedules are counted.
_COUNT_LOCK = "bespin.schedules.count:"


class TooManySchedules(Exception):
    """The owner already has as many schedules as they may (the API answers 409)."""


# A schedule's fields that a change may name, by the names the API and the model use.
FIELDS = ("name", "cron", "timezone", "type", "params", "enabled", "owner", "priority", "callback_url")


def check_fields(
    *, cron: str, timezone: str, type: str, params, priority: str = "", callback_url: str = "", owner=None
) -> dict:
    """Every field a schedule is read by, checked together so that a 400 names all bad ones:
    the checked `cron`, `timezone`, `type`, `params`, `priority` and `callback_url`."""
    checked, errors = {}, {}
    for name, check in (
        ("cron", lambda: validate_cron(cron)),
        ("timezone", lambda: validate_timezone(timezone)),
        ("type", lambda: registry.validate_params(kind=type, params=params if params is not None else {})),
        ("priority", lambda: _validate_priority(priority)),
        ("callback_url", lambda: extensions.check_callback_url(url=callback_url, owner=owner)),
    ):
        try:
            checked[name] = check()
        except serializers.ValidationError as error:
            errors.update(error.detail)
    if errors:
        raise serializers.ValidationError(errors)
    job_kind, checked["params"] = checked["type"]
    checked["type"] = job_kind.name
    return checked


def _validate_priority(priority: str | None) -> str:
    """A priority, or "" for the kind's own."""
    if priority and priority not in Priority.values:
        raise serializers.ValidationError({"priority": [f"{str(priority)[:20]!r} is not one of {Priority.values}"]})
    return priority or ""


def create_schedule(
    *, owner, name: str, cron: str, timezone: str = "UTC", type: str, params=None, enabled: bool = True,
    priority: str = "", callback_url: str = "",
) -> Schedule:  # fmt: skip
    """A schedule of `owner`'s, its next tick computed; ValidationError naming `cron`,
    `timezone`, `type`, `params`, `priority` or `callback_url` when one is bad."""
    checked = check_fields(
        cron=cron, timezone=timezone, type=type, params=params, priority=priority, callback_url=callback_url,
        owner=owner,
    )  # fmt: skip
    schedule = Schedule(name=name, owner=owner, enabled=enabled, **checked)
    schedule.next_run_at = _next_run(schedule)
    with transaction.atomic():
        check_room(owner, lock=True)
        schedule.save(force_insert=True)
    log.info(
        "schedule_created schedule=%s cron=%r timezone=%s type=%s", schedule.id, schedule.cron, schedule.timezone,
        schedule.type,
    )  # fmt: skip
    return schedule


def check_room(owner, *, lock: bool = False) -> None:
    """TooManySchedules if `owner` already has BESPIN_USER_MAX_SCHEDULES schedules. With `lock`
    (inside the creating transaction), concurrent creations for one owner wait for each other
    first, so that they cannot all see room for one more."""
    limit = settings.USER_MAX_SCHEDULES
    if not limit or owner is None or owner.pk is None:
        return
    if lock:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"{_COUNT_LOCK}{owner.pk}"])
    if Schedule.objects.filter(owner=owner)[:limit].count() >= limit:
        raise TooManySchedules(f"you already have {limit} schedules, the most one user may have: delete one first")


def update_schedule(*, schedule: Schedule, **changes) -> Schedule:
    """Change any of FIELDS. A change of the expression, the zone or the flag computes the next
    tick again, from now: a schedule enabled again starts no tick it missed while disabled."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise TypeError(f"update_schedule got unknown fields {sorted(unknown)}")
    current = {name: getattr(schedule, name) for name in FIELDS}
    wanted = current | changes
    checked = check_fields(**{name: wanted[name] for name in FIELDS if name not in ("name", "enabled")})
    wanted |= checked
    retimed = any(wanted[name] != current[name] for name in ("cron", "timezone", "enabled"))
    for name in FIELDS:
        setattr(schedule, name, wanted[name])
    fields = [*FIELDS, "updated_at"]
    if schedule.enabled and schedule.disabled_reason:
        schedule.disabled_reason = ""  # enabled again, by its owner
        fields.append("disabled_reason")
    if retimed:
        schedule.next_run_at = _next_run(schedule)
        fields.append("next_run_at")
    # Only what this change decides: the clock may be moving next_run_at and last_run_at meanwhile.
    schedule.save(update_fields=fields)
    log.info("schedule_updated schedule=%s fields=%s", schedule.id, ",".join(sorted(changes)))
    return schedule


def _next_run(schedule: Schedule) -> datetime | None:
    if not schedule.enabled:
        return None
    return next_tick(cron=schedule.cron, tz=schedule.timezone, after=utcnow())


def delete_schedule(*, schedule: Schedule) -> None:
    """Delete the schedule; the jobs it started stay, no longer naming it."""
    log.info("schedule_deleted schedule=%s", schedule.id)
    schedule.delete()


def start_due_schedules(*, now: datetime | None = None, limit: int = MAX_DUE) -> list[Job]:
    """Start one job for each enabled schedule whose next tick has come (at most `limit`),
    for its latest due tick, and move it to its next tick after `now`. The jobs are enqueued
    and published once committed."""
    now = now or utcnow()
    started = []
    with transaction.atomic():
        due = list(
            Schedule.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("owner")
            .filter(enabled=True, next_run_at__lte=now)
            .order_by("next_run_at")[:limit]
        )
        # By owner: each tick takes its owner's cap lock (held to the commit), and two workers
        # taking them in one order cannot deadlock.
        for schedule in sorted(due, key=lambda schedule: schedule.owner_id):
            # The stored next tick is due; a later one may be too, after downtime: the latest runs.
            tick = max(
                schedule.next_run_at,
                latest_tick(cron=schedule.cron, tz=schedule.timezone, at=now) or schedule.next_run_at,
            )
            job = _start_tick(schedule, tick)
            if job is None and not schedule.enabled:
                continue  # turned off: its task is gone
            if job is not None:
                started.append(job)
            following = next_tick(cron=schedule.cron, tz=schedule.timezone, after=max(now, tick))
            Schedule.objects.filter(id=schedule.id).update(last_run_at=tick, next_run_at=following)
            if following is None:
                log.warning("schedule_ended schedule=%s: %r has no tick after %s", schedule.id, schedule.cron, now)
        if started:
            transaction.on_commit(partial(announce_many, started, new=True, enqueue=started))
    return started


def _start_tick(schedule: Schedule, tick: datetime) -> Job | None:
    """The job of one tick, or None: another worker started it; or the owner has as many
    unfinished jobs as they may (the tick is counted as skipped, with why); or the schedule's
    task is no longer loaded or offered, or its parameters no longer valid for it: then the
    schedule is turned off with the reason, logged once."""
    try:
        job_kind, params = registry.validate_params(kind=schedule.type, params=schedule.params)
    except serializers.ValidationError as error:
        reason = f"turned off at {tick:%Y-%m-%d %H:%M} UTC: {first_message(error.detail)}"[:500]
        Schedule.objects.filter(id=schedule.id).update(enabled=False, next_run_at=None, disabled_reason=reason)
        schedule.enabled = False
        log.warning("schedule_disabled schedule=%s: %s", schedule.id, reason)
        return None
    caller = caller_for_user(schedule.owner)
    job = Job(
        type=job_kind.name, params=params, owner_id=schedule.owner_id, client=caller.client,
        status=JobStatus.PENDING, priority=schedule.priority or job_kind.priority, callback_url=schedule.callback_url,
        run_at=tick, schedule=schedule,
    )  # fmt: skip
    try:
        with transaction.atomic():
            caps.hold(caller)
            job.save(force_insert=True)
    except IntegrityError:
        return None
    except caps.TooManyUnfinished as error:
        reason = f"the tick of {tick:%Y-%m-%d %H:%M} UTC started no job: {error}"[:500]
        Schedule.objects.filter(id=schedule.id).update(skipped_ticks=F("skipped_ticks") + 1, last_skip_reason=reason)
        log.warning("schedule_tick_skipped schedule=%s owner=%s: %s", schedule.id, schedule.owner_id, reason)
        return None
    return job


def _start_due_ticks(now: datetime) -> int:
    return len(start_due_schedules(now=now))


# For the workers' clock (jobs.extensions): its probe, on the partial index of enabled schedules.
CLOCK_STEP = extensions.ClockStep(
    name="schedules",
    due_sql=f"SELECT 1 FROM {Schedule._meta.db_table} WHERE enabled AND next_run_at <= %s",
    run=_start_due_ticks,
)
