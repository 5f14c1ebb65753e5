"""Typed readers for settings that come from the environment.

Each helper fails loudly on a value it cannot read instead of guessing: `DEBUG=yes`
is refused rather than taken as true.
"""

import os
import re
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from bespin.lib.durations import parse_duration

_TRUE = {"1", "true", "on"}
_FALSE = {"0", "false", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use one of 1, true, on, 0, false, off")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: must be at least {minimum}")
    return value


def env_duration(name: str, default: str = "") -> timedelta | None:
    """A duration such as `30d`; None when empty."""
    raw = os.environ.get(name, default).strip()
    if not raw:
        return None
    try:
        return parse_duration(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None


_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}  # fmt: skip


def parse_rate(rate: str) -> tuple[int, float]:
    """`120/min` as (120, 60.0): at most 120 in any minute."""
    match = re.fullmatch(r"(\d+)/(\w+)", rate)
    if not match or match[2] not in _PERIODS or int(match[1]) < 1:
        raise ValueError(f"{rate!r} is not a rate such as 120/min")
    return int(match[1]), float(_PERIODS[match[2]])


def env_rate(name: str, default: str) -> str | None:
    """A rate such as `120/min`; None when empty (no limit)."""
    rate = (os.environ.get(name, default) or "").strip() or None
    if rate is not None:
        try:
            parse_rate(rate)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={rate!r}: use a rate such as 120/min, or empty for none") from None
    return rate


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_map(name: str, *, minimum: int = 0) -> dict[str, int]:
    """`key=number` pairs separated by commas (`sleep=1,random_text=50`); {} when unset or
    empty. Refuses a pair without `=`, an empty key, a key given twice, or a number that is
    not whole or is below `minimum`."""
    raw = (os.environ.get(name) or "").strip()
    values: dict[str, int] = {}
    for pair in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, number = (piece.strip() for piece in pair.partition("="))
        if not sep or not key:
            raise ImproperlyConfigured(f"{name}={raw!r}: use name=number pairs separated by commas, such as sleep=1")
        if key in values:
            raise ImproperlyConfigured(f"{name}={raw!r}: {key!r} is given twice")
        try:
            values[key] = int(number)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r}: {key}={number!r} is not a whole number") from None
        if values[key] < minimum:
            raise ImproperlyConfigured(f"{name}={raw!r}: {key} must be at least {minimum}")
    return values
