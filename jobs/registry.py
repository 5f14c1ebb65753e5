"""The tasks Bespin runs, and those it offers to clients.

Every `@task` function in the `tasks` module of an app Bespin loads (its own apps, and those
named in BESPIN_APPS) is registered when Django starts. A job's `type` is its task's name:
the module path (`reports.tasks.send_report`), or the short name its options give (the
built-ins' `random_text` and `sleep`). Code may enqueue any task, registered or not; the
API, batches, schedules, webhook triggers and the dashboard offer only the tasks that are
exposed (`@options(api=True)` or BESPIN_API_TASKS), and to anonymous callers only those also
open to them (`anonymous=True` or BESPIN_ANON_TASKS).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib import import_module
from inspect import iscoroutinefunction

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string, module_has_submodule
from rest_framework import serializers

from bespin.lib.jsontypes import unstorable
from bespin.tasks import TaskOptions, options_of, resolve
from jobs.compat import TASK_CLASSES
from jobs.models import Priority
from jobs.params import describe

log = logging.getLogger("bespin.jobs")

TASKS_MODULE = "tasks"
# Django's priorities run from -100 to 100; Bespin's queues are three.
HIGH_FROM, LOW_UNDER = 1, 0


def priority_of(task) -> str:
    """The queue a task's jobs go on when they name none: its queue_name when that is one of
    Bespin's three, else its Django priority (above 0: high; below: low; 0: default)."""
    if task.queue_name in Priority.values and task.queue_name != Priority.DEFAULT:
        return task.queue_name
    if task.priority >= HIGH_FROM:
        return Priority.HIGH
    return Priority.LOW if task.priority < LOW_UNDER else Priority.DEFAULT


@dataclass(frozen=True, eq=False)
class JobKind:
    """A task as Bespin runs and offers it."""

    name: str
    task: object  # the Task (django.tasks' or the backport's)
    options: TaskOptions

    @property
    def function(self) -> Callable:
        return self.task.func

    @property
    def module_path(self) -> str:
        return f"{self.function.__module__}.{self.function.__qualname__}"

    @property
    def app_label(self) -> str:
        config = apps.get_containing_app_config(self.function.__module__)
        return config.label if config is not None else self.function.__module__.split(".")[0]

    @cached_property
    def _described(self):
        return describe(self.function, takes_context=self.task.takes_context, name=self.name)

    @property
    def params_serializer(self) -> type[serializers.Serializer]:
        return self._described.serializer

    @property
    def description(self) -> str:
        return " ".join((self.function.__doc__ or "").split())

    @property
    def description_parts(self) -> list[tuple[str, bool]]:
        """The description as (text, is code) pieces: a docstring writes `name` for code."""
        return [(text, index % 2 == 1) for index, text in enumerate(self.description.split("`")) if text]

    def anonymous_ceilings(self) -> dict:
        return {name: resolve(bound) for name, bound in self._described.anonymous_ceilings.items()}

    @property
    def timeout(self) -> int:
        return settings.TASK_TIMEOUT.get(self.name, self.options.timeout)

    @property
    def max_retries(self) -> int:
        return settings.TASK_RETRIES.get(self.name, self.options.retries)

    @property
    def retry_backoff(self) -> float:
        return self.options.backoff

    @property
    def rerun_safe(self) -> bool:
        return self.options.rerun_safe

    @property
    def max_concurrency(self) -> int | None:
        return self.options.max_concurrency

    @property
    def priority(self) -> str:
        return priority_of(self.task)

    @property
    def exposed(self) -> bool:
        return self.options.api or self.name in settings.API_TASKS or self.anonymous

    @property
    def anonymous(self) -> bool:
        return (self.options.anonymous and self.options.api) or self.name in settings.ANON_TASKS

    @property
    def is_async(self) -> bool:
        return iscoroutinefunction(self.function)


def name_of(task) -> str:
    chosen = options_of(task.func).name
    return chosen or f"{task.func.__module__}.{task.func.__qualname__}"


class _Registry:
    def __init__(self):
        self.by_name: dict[str, JobKind] | None = None
        self.by_path: dict[str, JobKind] = {}

    def load(self) -> dict[str, JobKind]:
        if self.by_name is None:
            found: dict[str, JobKind] = {}
            for config in apps.get_app_configs():
                if not module_has_submodule(config.module, TASKS_MODULE):
                    continue
                module = import_module(f"{config.name}.{TASKS_MODULE}")
                for value in vars(module).values():
                    if isinstance(value, TASK_CLASSES) and value.func.__module__ == module.__name__:
                        kind = self.kind_of(value)
                        if kind.name in found and found[kind.name].task is not value:
                            raise ValueError(f"two tasks are named {kind.name!r}: give one another name")
                        found[kind.name] = kind
            self.by_name = found
        return self.by_name

    def kind_of(self, task) -> JobKind:
        path = f"{task.func.__module__}.{task.func.__qualname__}"
        kind = self.by_path.get(path)
        if kind is None or kind.task is not task:
            kind = self.by_path[path] = JobKind(name=name_of(task), task=task, options=options_of(task.func))
        return kind


_registry = _Registry()


def registered() -> dict[str, JobKind]:
    """Every task of the apps Bespin loads, by name."""
    return _registry.load()


def offered(*, anonymous: bool = False) -> dict[str, JobKind]:
    """The tasks clients may start (`anonymous`: anonymous ones), by name, sorted."""
    return {
        name: kind for name, kind in sorted(registered().items()) if (kind.anonymous if anonymous else kind.exposed)
    }


def kind_of(task) -> JobKind:
    """The registry's entry of a Task object, registered or not."""
    return _registry.kind_of(task)


def get_kind(name: str) -> JobKind | None:
    """A task by name: registered, or any task importable by its module path (code may
    enqueue any task). None for a name that is no task (one no longer loaded, say)."""
    kind = registered().get(name)
    if kind is not None or not isinstance(name, str) or "." not in name:
        return kind
    try:
        found = import_string(name)
    except ImportError:
        return None
    return kind_of(found) if isinstance(found, TASK_CLASSES) else None


def concurrency_limit(name: str) -> int | None:
    """How many jobs of task `name` may run at once, or None for no limit: the setting's
    value for it (0: none), else the task's own."""
    if name in settings.MAX_CONCURRENCY:
        return settings.MAX_CONCURRENCY[name] or None
    kind = get_kind(name)
    return kind.max_concurrency if kind is not None else None


def validate_params(
    *, kind: str, params, anonymous: bool = False, offered_only: bool = True, checkers: dict | None = None
) -> tuple[JobKind, dict]:
    """The task and its checked parameters; raises serializers.ValidationError naming `type`
    (no such task, or one not offered to this caller) or `params` (bad parameters, or past an
    anonymous caller's ceiling). `offered_only=False` for code, which may run any task.

    `checkers`, a dict kept by a caller checking many jobs at once (a batch), holds one
    parameter serializer per task for all of them: a serializer builds its fields anew for
    each instance, most of the cost of checking one job's parameters."""
    job_kind = None
    if isinstance(kind, str):
        job_kind = get_kind(kind) if not offered_only else offered(anonymous=anonymous).get(kind)
    if job_kind is None:
        raise serializers.ValidationError({"type": [unknown_type_message(kind, anonymous=anonymous)]})
    if not isinstance(params, dict):
        raise serializers.ValidationError({"params": ["must be a JSON object"]})
    checker = None if checkers is None else checkers.get(job_kind.name)
    if checker is None:
        checker = job_kind.params_serializer()
        if checkers is not None:
            checkers[job_kind.name] = checker
    try:
        # What is_valid() runs, without keeping the data on the serializer.
        clean = dict(checker.run_validation(params))
    except serializers.ValidationError as error:
        raise serializers.ValidationError({"params": error.detail}) from None
    if why := unstorable(clean):
        raise serializers.ValidationError({"params": [f"cannot be stored: {why}"]})
    if anonymous:
        over = {
            name: [f"at most {ceiling:g} for anonymous callers; sign in to ask for more"]
            for name, ceiling in job_kind.anonymous_ceilings().items()
            if isinstance(clean.get(name), int | float) and clean[name] > ceiling
        }
        if over:
            raise serializers.ValidationError({"params": over})
    return job_kind, clean


def unknown_type_message(kind, *, anonymous: bool = False) -> str:
    known = ", ".join(offered(anonymous=anonymous)) or "none"
    who = " to anonymous callers (sign in for more)" if anonymous else ""
    return f"unknown job type {str(kind)[:200]!r}; the types offered{who}: {known}"
