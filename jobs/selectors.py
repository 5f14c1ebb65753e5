"""Reads of jobs that are more than a one-line query."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncMinute
from django.http import Http404
from django.utils import timezone

from jobs import heartbeats, queue
from jobs.models import FINAL_STATUSES, Job, JobStatus


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


def job_or_404(job_id) -> Job:
    """The job, or Http404 (which the API answers as a JSON 404) for an unknown or malformed id."""
    job = get_job(job_id)
    if job is None:
        raise Http404(f"no job with id {str(job_id)[:64]!r}")
    return job


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
    """Jobs waiting in the RQ queue: one LLEN."""
    return queue.queue_depth()


def live_worker_count() -> int:
    """Workers with a live heartbeat: one ZCOUNT, however many keys Redis holds."""
    return heartbeats.live_count()


DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


@dataclass
class DurationHistogram:
    buckets: list  # [(le, cumulative count)], ending with ("+Inf", count)
    total: float
    count: int


@dataclass
class JobMetrics:
    created: dict  # kind -> jobs
    finished: dict  # (kind, status) -> jobs
    by_status: dict  # status -> jobs
    durations: dict  # kind -> DurationHistogram


def job_metrics() -> JobMetrics:
    """Counts and run-time histograms of every job, in two queries."""
    created, finished, by_status = {}, {}, {status: 0 for status in JobStatus.values}
    for row in Job.objects.order_by().values("type", "status").annotate(n=Count("id")):
        created[row["type"]] = created.get(row["type"], 0) + row["n"]
        by_status[row["status"]] += row["n"]
        if row["status"] in FINAL_STATUSES:
            finished[(row["type"], row["status"])] = row["n"]
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets = {f"le_{i}": Count("id", filter=Q(d__lte=timedelta(seconds=b))) for i, b in enumerate(DURATION_BUCKETS)}
    rows = (
        Job.objects.order_by()
        .filter(started_at__isnull=False, finished_at__isnull=False)
        .annotate(d=duration)
        .values("type")
        .annotate(count=Count("id"), total=Sum("d"), **buckets)
    )
    durations = {
        row["type"]: DurationHistogram(
            buckets=[(b, row[f"le_{i}"]) for i, b in enumerate(DURATION_BUCKETS)] + [("+Inf", row["count"])],
            total=row["total"].total_seconds() if row["total"] else 0.0,
            count=row["count"],
        )
        for row in rows
    }
    return JobMetrics(created=created, finished=finished, by_status=by_status, durations=durations)


# Dashboard


@dataclass(frozen=True)
class MinuteStats:
    """Jobs that finished (completed or failed) within one minute."""

    start: datetime
    finished: int
    failed: int

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.finished if self.finished else None


def status_counts(user) -> dict[str, int]:
    """How many of the jobs `user` may list are in each status; every status is a key."""
    rows = jobs_visible_to(user).order_by().values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(JobStatus.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def finished_per_minute(user, *, minutes: int = 60, now: datetime | None = None) -> list[MinuteStats]:
    """Jobs of `user` that completed or failed in each of the last `minutes` minutes, oldest
    first; the last bucket is the current, unfinished minute."""
    end = (now or timezone.now()).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    rows = (
        jobs_visible_to(user)
        .order_by()
        .filter(finished_at__gte=start, finished_at__lt=end, status__in=(JobStatus.COMPLETED, JobStatus.FAILED))
        .annotate(minute=TruncMinute("finished_at"))
        .values("minute", "status")
        .annotate(n=Count("id"))
    )
    finished: dict[datetime, int] = {}
    failed: dict[datetime, int] = {}
    for row in rows:
        finished[row["minute"]] = finished.get(row["minute"], 0) + row["n"]
        if row["status"] == JobStatus.FAILED:
            failed[row["minute"]] = row["n"]
    buckets = [start + timedelta(minutes=i) for i in range(minutes)]
    return [MinuteStats(minute, finished.get(minute, 0), failed.get(minute, 0)) for minute in buckets]


def search_jobs(user, *, status: str | None = None, kind: str | None = None, id_contains: str = ""):
    """`jobs_visible_to` narrowed to ids containing `id_contains` (as written: lowercase, dashed)."""
    jobs = jobs_visible_to(user, status=status, kind=kind)
    if id_contains:
        jobs = jobs.filter(id__icontains=id_contains)
    return jobs
