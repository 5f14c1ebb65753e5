"""Reads of jobs that are more than a one-line query."""

import uuid

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
