"""The task `make bench` runs on Bespin's backend and on django-tasks' other two (bench/peers.py):
a small piece of work whose cost is the backend's, not its own."""

from django_tasks import task


@task
def add(a: int, b: int) -> int:
    return a + b
