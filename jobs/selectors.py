"""Reads of jobs that are more than a one-line query."""

import uuid

import django_rq

from jobs.models import Job


def parse_job_id(raw) -> uuid.UUID | None:
    """The UUID in `raw`, or None when it is not one."""
    try:
        return uuid.UUID(str(raw))
    except (TypeError, ValueError, AttributeError):
        return None


def get_job(job_id) -> Job | None:
    parsed = parse_job_id(job_id)
    if parsed is None:
        return None
    return Job.objects.filter(id=parsed).first()


def jobs_visible_to(user, *, status: str | None = None, kind: str | None = None):
    """Jobs a signed-in user may list, newest first: their own, or every job for staff."""
    jobs = Job.objects.all() if user.is_staff else Job.objects.filter(owner=user)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(type=kind)
    return jobs.order_by("-created_at")


def team_id_for_member(user, name: str) -> int | None:
    """The id of team (Django group) `name` when `user` belongs to it, else None."""
    return user.groups.filter(name=name).values_list("id", flat=True).first()


def may_control(user, job: Job) -> bool:
    """Whether `user` may cancel or retry `job`: its owner or staff; for a job created
    anonymously, whoever holds its id (the id is the capability, as for reading it)."""
    if job.owner_id is None:
        return True
    return user.is_authenticated and (user.is_staff or user.pk == job.owner_id)


def queue_depth() -> int:
    """Jobs waiting in the RQ queue."""
    from jobs.services import QUEUE_NAME

    return django_rq.get_queue(QUEUE_NAME).count


def live_worker_count() -> int:
    """Workers whose heartbeat key is alive in Redis."""
    from jobs.services import worker_heartbeat_key

    connection = django_rq.get_connection()
    return sum(1 for _ in connection.scan_iter(match=worker_heartbeat_key("*"), count=1000))
