"""A schedule: a job of one kind, started at every tick of a cron expression in a time zone.
Its services are schedules.services'; the workers' clock (jobs.execution.clock) starts the due ticks' jobs."""

import uuid

from django.conf import settings
from django.db import models


class Schedule(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    # Five fields (minute hour day-of-month month day-of-week), read by cronsim.
    cron = models.CharField(max_length=200)
    # An IANA time zone the expression is read in: `0 9 * * *` in Europe/Berlin is 09:00 there,
    # through daylight saving changes.
    timezone = models.CharField(max_length=64, default="UTC")
    # The kind of job each tick starts (a job's `type`); its column is still named `kind`.
    type = models.CharField(max_length=200, db_column="kind")
    params = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules")
    enabled = models.BooleanField(default=True)
    # Why Bespin turned it off (its task no longer loaded or offered, or its parameters no
    # longer valid for it); empty otherwise. Enabling it again clears it.
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    # The priority of the jobs it starts; empty: their kind's.
    priority = models.CharField(max_length=8, blank=True, default="")
    # Where the workers POST each job it starts once that job ends (callbacks/); empty: nowhere.
    callback_url = models.CharField(max_length=2000, blank=True, default="")
    # The next tick (null while disabled), kept by schedules.services whenever the expression, the
    # time zone or the enabled flag changes, and by the clock as each tick is started.
    next_run_at = models.DateTimeField(null=True, blank=True)
    # The tick of the last job started.
    last_run_at = models.DateTimeField(null=True, blank=True)
    # Ticks that started no job because the owner already had as many unfinished jobs as they
    # may (BESPIN_USER_MAX_UNFINISHED), and why the latest of them was skipped.
    skipped_ticks = models.PositiveIntegerField(default=0)
    last_skip_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The table it had while schedules were part of the jobs app.
        db_table = "jobs_schedule"
        ordering = ["name", "created_at"]
        indexes = [
            # The clock's "which schedules are due", every fraction of a second: enabled ones only.
            models.Index(fields=["next_run_at"], name="schedule_due_idx", condition=models.Q(enabled=True)),
            models.Index(fields=["owner", "name"], name="schedule_owner_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cron} {self.timezone}: {self.type})"
