"""Bespin as the backend of Django's Tasks API (settings.TASKS): `task.enqueue()` creates a
Bespin job, `get_result()` reads it from PostgreSQL, and Bespin's workers run it.

- `enqueue` checks the arguments as Django does (JSON values only) and by the task's
  signature, then creates the job: its id is the TaskResult's. Inside a transaction the job
  exists only if the transaction commits, and is queued only once it has.
- `run_after` makes a `scheduled` job; Django's priority (−100 to 100) picks Bespin's queue
  (above 0: high, below: low); `queue_name` may name one of Bespin's three queues.
- `get_result` maps Bespin's statuses onto Django's: scheduled and pending are READY,
  running is RUNNING, completed is SUCCESSFUL, failed and cancelled are FAILED (with each
  failed attempt's exception and traceback in `errors`).
"""

import inspect
import uuid
from dataclasses import dataclass, field
from functools import partial

from django.db import transaction
from rest_framework import serializers

from jobs import registry, rows
from jobs.compat import (
    BaseTaskBackend,
    InvalidTaskError,
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    normalize_json,
    task_enqueued,
)
from jobs.models import Job, JobStatus, Priority
from jobs.params import UnsupportedTask
from jobs.services import creation

STATUS = {
    JobStatus.SCHEDULED: TaskResultStatus.READY,
    JobStatus.PENDING: TaskResultStatus.READY,
    JobStatus.RUNNING: TaskResultStatus.RUNNING,
    JobStatus.COMPLETED: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.CANCELLED: TaskResultStatus.FAILED,
}
# Bespin's queues are its priorities: a task may name one as its queue_name.
QUEUES = [Priority.DEFAULT.value, Priority.HIGH.value, Priority.LOW.value]


@dataclass(frozen=True, kw_only=True)
class BespinTaskResult(TaskResult):
    """Django's TaskResult, counting a job's attempts as Bespin does (retries by a user
    included, which leave no error behind)."""

    attempts_made: int = 0

    @property
    def attempts(self) -> int:
        return self.attempts_made


@dataclass(frozen=True, kw_only=True)
class BespinTaskContext(TaskContext):
    """What a task declared with `takes_context=True` gets as its first argument: Django's
    context (`task_result`, `attempt`), and the job's `job_id`, `owner_id` (None for a job
    nobody owns) and `progress(percent)`, which the WebSocket and the dashboard show."""

    job_id: uuid.UUID
    owner_id: int | None = None
    report: object = field(default=None, repr=False)

    @property
    def attempt(self) -> int:
        return self.task_result.attempts

    def progress(self, percent: float) -> None:
        """Report progress, 0 to 100. Where a cancelled job stops: after a cancel, this raises
        and the job's run ends there."""
        if self.report is not None:
            self.report(percent)


def _task_of(job: Job):
    kind = registry.get_kind(job.type)
    if kind is not None:
        return kind.task
    raise TaskResultDoesNotExist(f"job {job.id} is of {job.type!r}, which is no task Bespin has loaded")


def result_of(job: Job, task=None, *, backend: str = "default") -> BespinTaskResult:
    """The TaskResult of a job (of `task`, when the caller has it)."""
    errors = [
        TaskError(exception_class_path=error["exception_class_path"], traceback=error["traceback"])
        for error in job.errors or []
    ]
    workers = [error.get("worker", "") for error in job.errors or []]
    started = job.status in (JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED) or (
        job.status == JobStatus.CANCELLED and job.started_at is not None
    )
    if started and job.worker_name:
        workers.append(job.worker_name)
    result = BespinTaskResult(
        task=task if task is not None else _task_of(job),
        id=str(job.id),
        status=STATUS[job.status],
        enqueued_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        last_attempted_at=job.started_at or (job.errors[-1]["at"] if job.errors else None),
        args=[],
        kwargs=dict(job.params),
        backend=backend,
        errors=errors,
        worker_ids=workers,
        attempts_made=job.attempt if started else job.attempt - 1,
    )
    if job.status == JobStatus.COMPLETED:
        object.__setattr__(result, "_return_value", job.result)
    return result


# One prepared read instead of the ORM's query building: applications poll results.
_GET_SQL = f'SELECT {rows.RETURNING} FROM "{Job._meta.db_table}" WHERE "id" = %s'


class BespinBackend(BaseTaskBackend):
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict):
        super().__init__(alias, {"QUEUES": QUEUES, **params})

    def validate_task(self, task) -> None:
        super().validate_task(task)
        try:
            registry.kind_of(task).params_serializer  # noqa: B018 (describes the parameters)
        except UnsupportedTask as error:
            raise InvalidTaskError(str(error)) from None

    def enqueue(self, task, args, kwargs):
        self.validate_task(task)
        kind = registry.kind_of(task)
        params = _keywords(task, args, kwargs)
        timing = {}
        # A priority or queue given with `.using()`: the registered task's own is the default.
        if kind.priority != (registry.get_kind(kind.name) or kind).priority:
            timing["priority"] = kind.priority
        if task.run_after is not None:
            timing["run_at"] = task.run_after
        # Checked as the API checks it (but for what is offered): a code caller's error is
        # Django's InvalidTaskError.
        try:
            job = creation.create_job(kind=kind.name, params=params, timing=timing or None, offered_only=False)
        except serializers.ValidationError as error:
            raise InvalidTaskError(f"{kind.name}: {error.detail}") from None
        result = result_of(job, task, backend=self.alias)
        transaction.on_commit(partial(task_enqueued.send, type(self), task_result=result))
        return result

    def get_result(self, result_id):
        try:
            found = rows.fetch_jobs(_GET_SQL, [uuid.UUID(str(result_id))])
        except ValueError:
            found = []
        if not found:
            raise TaskResultDoesNotExist(result_id)
        return result_of(found[0], backend=self.alias)


def _keywords(task, args, kwargs) -> dict:
    """The call's arguments by name, as a job keeps them; refused as Django refuses what is not
    JSON (its own normalize_json), and as Python refuses a call its signature does not take."""
    args, kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
    signature = inspect.signature(task.func)
    if task.takes_context:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        raise InvalidTaskError(f"{registry.name_of(task)}: {error}") from None
    return dict(bound.arguments)
