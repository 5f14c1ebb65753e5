"""What the apps built on jobs add to it, so that jobs imports none of them.

Each app registers its part from its AppConfig.ready(), which Django runs in every process
(servers, workers, management commands) before any request or job:
- callbacks checks a new job's `callback_url` (`check_callback_url`) and runs its senders
  beside every worker's loop (`worker_services`);
- schedules starts the jobs of due ticks from the workers' clock (`clock_steps`).
Without the app, jobs runs without that part: a `callback_url` is refused, nothing is sent,
no schedule ticks.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from threading import Event, Thread

from rest_framework import serializers


def _no_callbacks(*, url: str, owner, anonymous: bool = False) -> str:
    if (url or "").strip():
        raise serializers.ValidationError({"callback_url": ["callbacks are not installed on this server"]})
    return ""


# `check(url=, owner=, anonymous=)`: the URL to store ("" for none), or a ValidationError on
# `callback_url`. Every way of creating a job or a schedule calls it.
check_callback_url: Callable[..., str] = _no_callbacks


@dataclass(frozen=True)
class ClockStep:
    """Work the workers' clock does each round (jobs.execution.clock): `due_sql`, a query of
    one `%s` (now) that says whether anything is due, asked with the clock's own in one round
    trip; `run(now)` when it is, answering how many jobs it started."""

    name: str
    due_sql: str
    run: Callable[[datetime], int]


clock_steps: list[ClockStep] = []

# Each `start(stop)` starts threads beside a worker's RQ loop and returns them; they end once
# `stop` is set. Started in every worker that is not a burst worker.
worker_services: list[Callable[[Event], list[Thread]]] = []
