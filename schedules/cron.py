"""Cron expressions and time zones, as schedules use them: checked, and their ticks found.

Read by cronsim (five fields, in an IANA time zone, through daylight saving changes as cron
does). Pure functions: services (schedules.services) and reads (schedules.selectors) share them.
"""

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError
from rest_framework import serializers

CRON_HINT = "five fields: minute hour day-of-month month day-of-week, such as */15 * * * * or 0 9 * * 1-5"


def _numbers(low: int, high: int) -> str:
    """A regex for the numbers low to high (< 100), with any leading zeros."""
    parts = []
    for tens in range(low // 10, high // 10 + 1):
        first, last = max(low, tens * 10) % 10, min(high, tens * 10 + 9) % 10
        parts.append((str(tens) if tens else "") + (str(first) if first == last else f"[{first}-{last}]"))
    return "0*(?:" + "|".join(parts) + ")"


def _cron_pattern() -> str:
    """The expressions of numbers cronsim reads, as a JSON Schema pattern: in each field `*`,
    a value or a range in order, each with an optional `/step`, or a list of values and
    ranges. (cronsim also reads month and day names, `L`, `#` and `?`, which it leaves out.)"""

    def field(low: int, high: int) -> str:
        ranges = "|".join(f"0*{start}-{_numbers(start, high)}" for start in range(low, high + 1))
        item = f"(?:{ranges}|{_numbers(low, high)})(?:/0*[1-9][0-9]*)?"
        return f"(?:\\*(?:/0*[1-9][0-9]*)?|{item}(?:,{item})*)"

    bounds = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
    return "^" + " ".join(field(low, high) for low, high in bounds) + "$"


CRON_PATTERN = _cron_pattern()


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


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names this installation knows (the tzdata package's)."""
    return frozenset(available_timezones())


def validate_timezone(name: str) -> str:
    """An IANA time zone name (`UTC`, `Europe/Berlin`); ValidationError naming `timezone` otherwise."""
    # Only the names time_zones() lists, as the API's schema does; ZoneInfo alone would also
    # read `posixrules`, `posix/…` and `right/…`, which no list of zones names.
    try:
        if str(name) not in time_zones():
            raise ZoneInfoNotFoundError(name)
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
