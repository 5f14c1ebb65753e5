"""Durations as people write them: `30d`, `12h`, `90m`, `45s`, `2w`."""

import argparse
import re
from datetime import timedelta

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """The timedelta `text` says; ValueError when it says none."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration: use a number and s, m, h, d or w (30d, 12h)")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def duration_argument(text: str) -> timedelta:
    """parse_duration for a management command's argument (`type=duration_argument`)."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
