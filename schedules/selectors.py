"""Reads of schedules."""

from datetime import datetime

from django.http import Http404

from bespin.lib.ids import parse_uuid
from jobs.models import Job
from schedules.cron import ticks_from
from schedules.models import Schedule


def schedules_visible_to(user):
    """The schedules `user` may see and change: their own, or every one for staff."""
    schedules = Schedule.objects.select_related("owner")
    return schedules if user.is_staff else schedules.filter(owner=user)


def schedule_for(user, schedule_id) -> Schedule:
    """The schedule, or Http404 for an unknown or malformed id and for one `user` may not see
    (its owner and staff may): whether it exists is nobody else's business."""
    parsed = parse_uuid(schedule_id)
    schedule = schedules_visible_to(user).filter(id=parsed).first() if parsed is not None else None
    if schedule is None:
        raise Http404(f"no schedule with id {str(schedule_id)[:64]!r} that you may see")
    return schedule


def jobs_started_by(schedule: Schedule, *, limit: int = 25) -> list[Job]:
    """The latest jobs the schedule started, latest tick first (the index of one job per tick)."""
    return list(Job.objects.filter(schedule=schedule).order_by("-run_at")[:limit])


def upcoming_ticks(schedule: Schedule, *, count: int = 3) -> list[datetime]:
    """The schedule's next `count` ticks; none while it is disabled."""
    if not schedule.enabled:
        return []
    return ticks_from(cron=schedule.cron, tz=schedule.timezone, first=schedule.next_run_at, count=count)
