"""Cron expressions and time zones, as schedules use them: checked, and their ticks found.

Read by cronsim (five fields, in an IANA time zone, through daylight saving changes as cron
does). Pure functions: services (jobs.schedules) and reads (jobs.schedule_selectors) share them.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from rest_framework import serializers

CRON_HINT = "five fields: minute hour day-of-month month day-of-week, such as */15 * * * * or 0 9 * * 1-5"


def validate_cron(expression: str) -> str:
    """The expression with its blanks tidied; ValidationError naming `cron` otherwise."""
    expression = " ".join(str(expression).split())
    if len(expression.split(" ")) != 5:
        raise serializers.ValidationError({"cron": [f"{expression[:200]!r} is not a cron expression of {CRON_HINT}"]})
    try:
        CronSim(expression, datetime.now(UTC))
    except CronSimError as error:
        raise serializers.ValidationError(
            {"cron": [f"{expression!r}: {str(error).lower()}; use {CRON_HINT}"]}
        ) from None
    return expression


def validate_timezone(name: str) -> str:
    """An IANA time zone name (`UTC`, `Europe/Berlin`); ValidationError naming `timezone` otherwise."""
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise serializers.ValidationError(
            {"timezone": [f"{str(name)[:64]!r} is not an IANA time zone, such as UTC or Europe/Berlin"]}
        ) from None
    return str(name)


def next_tick(*, cron: str, tz: str, after: datetime) -> datetime | None:
    """The first tick of `cron` in zone `tz` strictly after `after`, in UTC; None if none comes."""
    try:
        return next(CronSim(cron, after.astimezone(ZoneInfo(tz)))).astimezone(UTC)
    except (StopIteration, CronSimError):
        return None


def latest_tick(*, cron: str, tz: str, at: datetime) -> datetime | None:
    """The last tick of `cron` in zone `tz` at or before `at`, in UTC; None if there is none."""
    try:
        return next(CronSim(cron, at.astimezone(ZoneInfo(tz)), reverse=True)).astimezone(UTC)
    except (StopIteration, CronSimError):
        return None


def ticks_from(*, cron: str, tz: str, first: datetime | None, count: int) -> list[datetime]:
    """`first` and the ticks after it, `count` in all (fewer when the expression runs out)."""
    ticks = [first] if first is not None else []
    while ticks and len(ticks) < count:
        following = next_tick(cron=cron, tz=tz, after=ticks[-1])
        if following is None:
            break
        ticks.append(following)
    return ticks
