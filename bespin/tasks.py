"""What a task declares to Bespin beside Django's `@task`: its options, and the bounds of its
parameters. Bespin runs any `@task` in an app it loads; these say how.

    from typing import Annotated, Literal

    from django_tasks import task  # django.tasks on Django 6

    from bespin.tasks import AnonymousAtMost, Between, options


    @task(takes_context=True)
    @options(api=True, timeout=120, retries=3)
    def send_report(context, user_id: int, period: Literal["day", "week"] = "week",
                    pages: Annotated[int, Between(1, 50), "pages at most"] = 10) -> dict:
        ...

`@options` goes under `@task` (it marks the function); without it a task gets the defaults
below. docs/tasks.md has the table of every option and setting.
"""

from collections.abc import Callable
from dataclasses import dataclass

# A bound: a number, or a callable that gives one when a request is checked (a setting).
Bound = float | int | Callable[[], float | int] | None

OPTIONS_ATTRIBUTE = "bespin_options"


@dataclass(frozen=True)
class TaskOptions:
    """How Bespin runs a task and who may start it."""

    # The task's name in the API and the dashboard; its module path when not given.
    name: str | None = None
    # Seconds one attempt may run before it is stopped and failed (or retried).
    timeout: int = 600
    # Attempts after a failure, the first `backoff` seconds later, each wait twice the last.
    retries: int = 0
    backoff: float = 1.0
    # Safe to run again when its worker is lost mid-run (else such a job fails).
    rerun_safe: bool = False
    # Jobs of it running at once across every worker; None: no limit.
    max_concurrency: int | None = None
    # Offered to API clients, schedules, webhook triggers and the dashboard's forms.
    api: bool = False
    # Offered to anonymous callers too (with `api`).
    anonymous: bool = False


def options(**given) -> Callable:
    """Mark a task's function with its options (TaskOptions' fields); put it under `@task`."""
    chosen = TaskOptions(**given)

    def mark(function):
        setattr(function, OPTIONS_ATTRIBUTE, chosen)
        return function

    return mark


def options_of(function) -> TaskOptions:
    return getattr(function, OPTIONS_ATTRIBUTE, None) or TaskOptions()


def resolve(bound: Bound):
    """A bound's value now."""
    return bound() if callable(bound) else bound


@dataclass(frozen=True)
class Between:
    """`Annotated[int, Between(1, 50)]`: a number from `minimum` to `maximum` (either None)."""

    minimum: Bound = None
    maximum: Bound = None


@dataclass(frozen=True)
class Length:
    """`Annotated[str, Length(maximum=200)]`: a string's or a list's length."""

    minimum: Bound = None
    maximum: Bound = None


@dataclass(frozen=True)
class AnonymousAtMost:
    """`Annotated[int, AnonymousAtMost(10)]`: the most an anonymous caller may ask; past it,
    a 400 saying to sign in."""

    value: Bound
