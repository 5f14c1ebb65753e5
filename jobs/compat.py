"""Django's Tasks API from where this Django has it: `django.tasks` from Django 6.0, the
`django-tasks` backport (module `django_tasks`, the same API) before. Bespin's backend and
registry import it from here only, so that moving to Django 6 changes nothing else."""

try:
    from django.tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task, TaskError
    from django.tasks.exceptions import InvalidTask as InvalidTaskError
    from django.tasks.exceptions import TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started
    from django.utils.json import normalize_json
except ImportError:
    from django_tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import Task, TaskError
    from django_tasks.exceptions import InvalidTaskError, TaskResultDoesNotExist
    from django_tasks.signals import task_enqueued, task_finished, task_started
    from django_tasks.utils import normalize_json

try:  # a task declared with the backport's decorator also runs under Django 6's API
    from django_tasks.base import Task as BackportTask
except ImportError:
    BackportTask = Task

TASK_CLASSES = tuple({Task, BackportTask})

__all__ = [
    "TASK_CLASSES",
    "BaseTaskBackend",
    "InvalidTaskError",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
    "normalize_json",
]
