import uuid

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    # Waiting for its run_at (jobs.execution.clock moves it to pending then); nothing of it is in Redis.
    SCHEDULED = "scheduled"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
# A scheduled job counts against a caller's cap like a pending one: it is work the caller has
# already asked for, and an uncounted status would let one address book any number of jobs ahead.
UNFINISHED_STATUSES = (JobStatus.SCHEDULED, JobStatus.PENDING, JobStatus.RUNNING)
# What cancel applies to (jobs.services.lifecycle.cancel_job, jobs.services.bulk.cancel_jobs), and retry.
CANCELLABLE_STATUSES = UNFINISHED_STATUSES
RETRYABLE_STATUSES = (JobStatus.FAILED, JobStatus.CANCELLED)

# Statuses only move forward within an attempt: scheduled, pending, running, then one final
# state. Watchers use (attempt, rank, progress) to drop a message older than one already shown.
STATUS_RANK = {
    JobStatus.SCHEDULED: -1,
    JobStatus.PENDING: 0,
    JobStatus.RUNNING: 1,
    JobStatus.COMPLETED: 2,
    JobStatus.FAILED: 2,
    JobStatus.CANCELLED: 2,
}


class Priority(models.TextChoices):
    """Which RQ queue a job's entry goes on; workers take high, then default, then low."""

    HIGH = "high"
    DEFAULT = "default"
    LOW = "low"


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Its task's name: a module path (`reports.tasks.send_report`) or a short name (jobs.registry).
    type = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    # Each failed attempt's exception: {"attempt", "exception_class_path", "traceback",
    # "worker", "at"}, oldest first (Django's TaskResult.errors).
    errors = models.JSONField(default=list, blank=True, db_default=[])
    attempt = models.PositiveIntegerField(default=1)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    worker_name = models.CharField(max_length=200, blank=True, default="")
    # Who asked for it (bespin.lib.clients.client_id: `user:<id>` or `ip:<address>`), for the cap
    # on unfinished jobs per caller; empty for jobs the system started (webhook triggers).
    client = models.CharField(max_length=80, blank=True, default="")
    # How many times the worker recovery found this job's worker dead; bounds re-runs of a
    # job that kills its worker every time.
    lost_count = models.PositiveSmallIntegerField(default=0)
    # Where the workers POST the job once it ends (callbacks/); empty: nowhere. The database
    # default serves rows written without the model (COPY), and the callbacks' trigger reads it.
    callback_url = models.CharField(max_length=2000, blank=True, default="", db_default="")
    # When it was asked to run (a `scheduled` job waits for it); null: at once. For a job a
    # schedule started, the tick it was started for.
    run_at = models.DateTimeField(null=True, blank=True)
    # The database default serves rows written without the model (COPY), as for callback_url.
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.DEFAULT, db_default="default")
    # No index of its own: a plain job must not pay for one. The partial unique constraint
    # below is the index of the jobs a schedule started.
    schedule = models.ForeignKey(
        "schedules.Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="job_created_idx"),
            models.Index(fields=["owner", "-created_at"], name="job_owner_created_idx"),
            models.Index(fields=["status", "-created_at"], name="job_status_created_idx"),
            # The dashboard's per-minute charts read the last hour of finished jobs.
            models.Index(fields=["finished_at"], name="job_finished_idx"),
            # A caller's unfinished jobs, counted against its cap: a few rows whatever the table holds.
            models.Index(
                fields=["client"], name="job_unfinished_client_idx", condition=models.Q(status__in=UNFINISHED_STATUSES)
            ),
            # The clock's "what is due" (jobs.execution.clock): only scheduled jobs are in it.
            models.Index(fields=["run_at"], name="job_scheduled_run_at_idx", condition=models.Q(status="scheduled")),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="job_progress_at_most_100"),
            models.CheckConstraint(condition=models.Q(status__in=JobStatus.values), name="job_status_known"),
            # One job per schedule and tick, however many workers see the tick due at once.
            models.UniqueConstraint(
                fields=["schedule", "run_at"],
                name="job_one_per_schedule_tick",
                condition=models.Q(schedule__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def order_key(self) -> tuple[int, int, int]:
        return (self.attempt, STATUS_RANK[self.status], self.progress)

    def status_message(self) -> dict:
        """The WebSocket message for this job's current state."""
        return {
            "type": "job_status",
            "job_id": str(self.id),
            "status": self.status,
            "progress": self.progress,
            "result": self.result,
            "error": self.error or None,
        }


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` a client sent with a job creation, kept for KEY_TTL."""

    client = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    # For a batch (POST /api/jobs/batch): the ids of all its jobs, in order; `job` is the first.
    batch = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_per_client")]

    def __str__(self) -> str:
        return f"{self.client} {self.key}"


# Counts that stay cheap however many jobs the table holds. PostgreSQL triggers (migration
# 0004) append a delta row for every change that moves a count; the workers' periodic
# maintenance folds the deltas into the totals (jobs.execution.tallies). A reader adds the totals and
# the few deltas not folded in yet. Appending instead of updating one hot row per count keeps
# concurrent writers from queueing on its lock. Nothing else writes these tables.

# Run-time buckets of the duration histogram, in seconds (Prometheus `le` bounds). The
# triggers' jobs_duration_bucket() holds the same list: change both in one migration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
# owner_id of a count of the jobs nobody owns, and of the count of every job.
NO_OWNER = 0
EVERYONE = -1


class JobCount(models.Model):
    """How many jobs of an owner (NO_OWNER, or EVERYONE for all) and kind are in a status."""

    owner_id = models.IntegerField()
    kind = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner_id", "kind", "status"], name="job_count_key")]

    def __str__(self) -> str:
        return f"owner {self.owner_id}: {self.n} {self.kind} {self.status}"


class JobCountDelta(models.Model):
    owner_id = models.IntegerField()
    kind = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    n = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner_id"], name="job_count_delta_owner_idx")]

    def __str__(self) -> str:
        return f"owner {self.owner_id}: {self.n:+} {self.kind} {self.status}"


class JobTally(models.Model):
    """Events that only ever add up, for metrics: jobs created (`event` "created", `bucket`
    -1) and attempts that ended (`event` the final status, `bucket` the index of the first
    DURATION_BUCKETS bound its run time fits under, len(DURATION_BUCKETS) past the last, -1
    when it never ran; `seconds` the run times added up). Pruning jobs leaves them alone."""

    kind = models.CharField(max_length=200)
    event = models.CharField(max_length=16)
    bucket = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "event", "bucket"], name="job_tally_key")]

    def __str__(self) -> str:
        return f"{self.count} {self.kind} {self.event} (bucket {self.bucket})"


class JobTallyDelta(models.Model):
    kind = models.CharField(max_length=200)
    event = models.CharField(max_length=16)
    bucket = models.SmallIntegerField()
    count = models.IntegerField()
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.count:+} {self.kind} {self.event} (bucket {self.bucket})"


class JobMinute(models.Model):
    """Jobs of an owner (NO_OWNER, or EVERYONE) that completed or failed within a minute: the
    overview's charts of the last hour read sixty of these instead of every job that finished.
    Rows older than MINUTES_KEPT are dropped as the deltas are folded in."""

    owner_id = models.IntegerField()
    minute = models.DateTimeField()
    status = models.CharField(max_length=16)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner_id", "minute", "status"], name="job_minute_key")]

    def __str__(self) -> str:
        return f"owner {self.owner_id}: {self.n} {self.status} at {self.minute:%H:%M}"


class JobMinuteDelta(models.Model):
    owner_id = models.IntegerField()
    minute = models.DateTimeField()
    status = models.CharField(max_length=16)
    n = models.IntegerField()

    def __str__(self) -> str:
        return f"owner {self.owner_id}: {self.n:+} {self.status} at {self.minute:%H:%M}"


class TaskMinute(models.Model):
    """Jobs of a task that completed or failed within a minute, by the DURATION_BUCKETS
    bucket of their run time (-1 when it never ran): the Tasks page's figures of the last hour
    (finished, failed, p50 and p95) read these instead of every job that finished. Rows older
    than MINUTES_KEPT are dropped as the deltas are folded in."""

    kind = models.CharField(max_length=200)
    minute = models.DateTimeField()
    status = models.CharField(max_length=16)
    bucket = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "minute", "status", "bucket"], name="task_minute_key")]

    def __str__(self) -> str:
        return f"{self.n} {self.kind} {self.status} at {self.minute:%H:%M} (bucket {self.bucket})"


class TaskMinuteDelta(models.Model):
    kind = models.CharField(max_length=200)
    minute = models.DateTimeField()
    status = models.CharField(max_length=16)
    bucket = models.SmallIntegerField()
    n = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.n:+} {self.kind} {self.status} at {self.minute:%H:%M} (bucket {self.bucket})"
