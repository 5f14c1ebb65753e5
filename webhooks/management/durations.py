import re
from datetime import timedelta

from django.core.management.base import CommandError

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `45s`, `2w` as a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise CommandError(f"{text!r} is not a duration: use a number and s, m, h, d or w (30d, 12h)")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})
