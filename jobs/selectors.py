"""Reads of jobs that are more than a one-line query."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.http import Http404
from django.utils import timezone

from bespin.lib import asyncdb
from bespin.lib.ids import parse_uuid
from jobs.execution import concurrency, heartbeats, queue
from jobs.models import (
    DURATION_BUCKETS,
    EVERYONE,
    Job,
    JobCount,
    JobCountDelta,
    JobMinute,
    JobMinuteDelta,
    JobStatus,
    JobTally,
    JobTallyDelta,
    TaskMinute,
    TaskMinuteDelta,
)


def get_job(job_id) -> Job | None:
    parsed = parse_uuid(job_id)
    if parsed is None:
        return None
    return Job.objects.filter(id=parsed).first()


# What a job's WebSocket message is made of (Job.status_message and Job.order_key).
_STATE_SQL = f"SELECT status, progress, result, error, attempt FROM {Job._meta.db_table} WHERE id = %s"


async def job_state(job_id: uuid.UUID) -> Job | None:
    """The job's current state for a WebSocket that opens on it, read on the event loop
    (bespin.lib.asyncdb): an unsaved Job holding only its status fields, or None."""
    row = await asyncdb.fetch_one(_STATE_SQL, [job_id])
    if row is None:
        return None
    status, progress, result, error, attempt = row
    return Job(id=job_id, status=status, progress=progress, result=result, error=error, attempt=attempt)


def job_or_404(job_id) -> Job:
    """The job, or Http404 (which the API answers as a JSON 404) for an unknown or malformed id."""
    job = get_job(job_id)
    if job is None:
        raise Http404(f"no job with id {str(job_id)[:64]!r}")
    return job


def jobs_visible_to(user, *, status: str | None = None, kind: str | None = None, schedule=None):
    """Jobs a signed-in user may list, newest first: their own, or every job for staff (the
    jobs bulk cancel and retry act on, too)."""
    jobs = Job.objects.all() if user.is_staff else Job.objects.filter(owner=user)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(type=kind)
    if schedule:
        jobs = jobs.filter(schedule=schedule)
    return jobs.order_by("-created_at")


def team_member_ids(user, name: str) -> list[int] | None:
    """The ids of the members of team (Django group) `name` when `user` is one, else None."""
    members = list(User.objects.filter(groups__name=name).values_list("id", flat=True))
    return members if user.pk in members else None


def may_control(user, job: Job) -> bool:
    """Whether `user` may cancel or retry `job`: its owner or staff; for a job created
    anonymously, whoever holds its id (the id is the capability, as for reading it)."""
    if job.owner_id is None:
        return True
    return user.is_authenticated and (user.is_staff or user.pk == job.owner_id)


def queue_depth() -> int:
    """Jobs waiting in the RQ queues: one LLEN each, in one round trip."""
    return queue.queue_depth()


def concurrency_slots() -> list[concurrency.Slots]:
    """Slots in use and jobs waiting for one, per kind with a concurrency limit (one round
    trip; none when no kind has a limit)."""
    return concurrency.slots_in_use()


def live_worker_count() -> int:
    """Workers with a live heartbeat: one ZCOUNT, however many keys Redis holds."""
    return heartbeats.live_count()


@dataclass(frozen=True)
class Tally:
    """Created jobs and ended attempts of one kind, as JobTally counts them."""

    created: int
    ended: dict  # final status -> attempts
    buckets: list  # attempts whose run fit under each DURATION_BUCKETS bound, not cumulative; then the rest
    seconds: float  # run time of those attempts, added up


def job_tallies() -> dict[str, Tally]:
    """Per kind, everything counted since the counts began (pruning jobs takes nothing off)."""
    sql = (
        f"SELECT kind, event, bucket, sum(count), sum(seconds) FROM (SELECT kind, event, bucket, count, seconds "
        f"FROM {JobTally._meta.db_table} UNION ALL SELECT kind, event, bucket, count, seconds "
        f"FROM {JobTallyDelta._meta.db_table}) counted GROUP BY 1, 2, 3"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    tallies: dict[str, dict] = {}
    for kind, event, bucket, count, seconds in rows:
        tally = tallies.setdefault(kind, {"created": 0, "ended": {}, "buckets": [0] * (len(DURATION_BUCKETS) + 1),
                                          "seconds": 0.0})  # fmt: skip
        if event == "created":
            tally["created"] += int(count)
            continue
        tally["ended"][event] = tally["ended"].get(event, 0) + int(count)
        if 0 <= bucket <= len(DURATION_BUCKETS):
            tally["buckets"][bucket] += int(count)
            tally["seconds"] += float(seconds)
    return {kind: Tally(**values) for kind, values in tallies.items()}


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
    return counts_by_status(owner_id=EVERYONE if user.is_staff else user.pk)


def counts_by_status(*, owner_id: int) -> dict[str, int]:
    """Jobs of `owner_id` (EVERYONE: all jobs) in each status, from the counts table and its
    few deltas (jobs.execution.tallies): never a COUNT over the jobs themselves."""
    deltas = "" if owner_id == EVERYONE else "WHERE owner_id = %s"
    sql = (
        f"SELECT status, sum(n) FROM (SELECT status, n FROM {JobCount._meta.db_table} WHERE owner_id = %s "
        f"UNION ALL SELECT status, n FROM {JobCountDelta._meta.db_table} {deltas}) counted GROUP BY status"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [owner_id] if owner_id == EVERYONE else [owner_id, owner_id])
        rows = cursor.fetchall()
    counts = dict.fromkeys(JobStatus.values, 0)
    counts.update({status: int(n) for status, n in rows if status in counts})
    return counts


def finished_per_minute(user, *, minutes: int = 60, now: datetime | None = None) -> list[MinuteStats]:
    """Jobs of `user` (staff: every job) that completed or failed in each of the last
    `minutes` minutes, oldest first; the last bucket is the current, unfinished minute. Read
    from the per-minute counts and their deltas (jobs.execution.tallies): at most a few hundred rows."""
    end = (now or timezone.now()).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    owner_id = EVERYONE if user.is_staff else user.pk
    deltas = "" if owner_id == EVERYONE else "owner_id = %s AND"
    sql = (
        f"SELECT minute, status, sum(n) FROM (SELECT minute, status, n FROM {JobMinute._meta.db_table} "
        f"WHERE owner_id = %s AND minute >= %s AND minute < %s UNION ALL SELECT minute, status, n "
        f"FROM {JobMinuteDelta._meta.db_table} WHERE {deltas} minute >= %s AND minute < %s) counted GROUP BY 1, 2"
    )
    params = [owner_id, start, end] + ([] if owner_id == EVERYONE else [owner_id]) + [start, end]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    finished: dict[datetime, int] = {}
    failed: dict[datetime, int] = {}
    for minute, status, n in rows:
        finished[minute] = finished.get(minute, 0) + int(n)
        if status == JobStatus.FAILED:
            failed[minute] = failed.get(minute, 0) + int(n)
    buckets = [start + timedelta(minutes=i) for i in range(minutes)]
    return [MinuteStats(minute, finished.get(minute, 0), failed.get(minute, 0)) for minute in buckets]


@dataclass(frozen=True)
class TaskFigures:
    """A task's jobs that finished (completed or failed) in the last hour, and how long the
    runs took: p50 and p95 are the bounds of the run-time buckets they fall in (at most that
    many seconds), None with nothing run."""

    finished: int = 0
    failed: int = 0
    p50: float | None = None
    p95: float | None = None


def _percentile(histogram: dict[int, int], share: float) -> float | None:
    ran = sorted((bucket, n) for bucket, n in histogram.items() if bucket >= 0)
    total = sum(n for _, n in ran)
    if not total:
        return None
    seen = 0
    for bucket, n in ran:
        seen += n
        if seen >= share * total:
            return DURATION_BUCKETS[bucket] if bucket < len(DURATION_BUCKETS) else float("inf")
    return None


def task_figures(*, minutes: int = 60, now: datetime | None = None) -> dict[str, TaskFigures]:
    """Each task's figures over the last `minutes`, from the per-minute histograms and their
    deltas (jobs.execution.tallies): at most a few thousand rows, whatever the table holds."""
    start = (now or timezone.now()).replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    sql = (
        f"SELECT kind, status, bucket, sum(n) FROM (SELECT kind, status, bucket, n FROM {TaskMinute._meta.db_table} "
        f"WHERE minute >= %s UNION ALL SELECT kind, status, bucket, n FROM {TaskMinuteDelta._meta.db_table} "
        f"WHERE minute >= %s) counted GROUP BY 1, 2, 3"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, start])
        rows = cursor.fetchall()
    histograms: dict[str, dict[int, int]] = {}
    failed: dict[str, int] = {}
    for kind, status, bucket, n in rows:
        histogram = histograms.setdefault(kind, {})
        histogram[bucket] = histogram.get(bucket, 0) + int(n)
        if status == JobStatus.FAILED:
            failed[kind] = failed.get(kind, 0) + int(n)
    return {
        kind: TaskFigures(
            finished=sum(histogram.values()),
            failed=failed.get(kind, 0),
            p50=_percentile(histogram, 0.5),
            p95=_percentile(histogram, 0.95),
        )  # fmt: skip
        for kind, histogram in histograms.items()
    }


def search_jobs(user, *, status: str | None = None, kind: str | None = None, id_prefix: str = ""):
    """`jobs_visible_to` narrowed to ids starting with `id_prefix` (hex digits, dashes
    ignored): a range of the primary key, not a scan of every id as text."""
    jobs = jobs_visible_to(user, status=status, kind=kind)
    digits = id_prefix.replace("-", "").lower()
    if digits:
        jobs = jobs.filter(id__gte=uuid.UUID(digits.ljust(32, "0")), id__lte=uuid.UUID(digits.ljust(32, "f")))
    return jobs


def count_jobs(user, *, status: str | None = None, kind: str | None = None) -> int:
    """How many jobs `user` may list (staff: every job) in `status` and of `kind`, from the
    counts table and its deltas: never a COUNT over the jobs."""
    owner_id = EVERYONE if user.is_staff else user.pk
    where, params = ["owner_id = %s"], [owner_id]
    if status:
        where.append("status = %s")
        params.append(status)
    if kind:
        where.append("kind = %s")
        params.append(kind)
    delta_where = where if owner_id != EVERYONE else where[1:]
    delta_params = params if owner_id != EVERYONE else params[1:]
    delta_clause = f"WHERE {' AND '.join(delta_where)}" if delta_where else ""
    sql = (
        f"SELECT coalesce(sum(n), 0) FROM (SELECT n FROM {JobCount._meta.db_table} WHERE {' AND '.join(where)} "
        f"UNION ALL SELECT n FROM {JobCountDelta._meta.db_table} {delta_clause}) counted"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + delta_params)
        return int(cursor.fetchone()[0])
