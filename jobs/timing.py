"""When and how urgently a new job runs: `run_at` or `delay`, and `priority`, checked the same
way for the API (one job or a batch), the dashboard's forms and jobs.services.creation.

A job that names none of them costs nothing here: timing_for() answers it from the kind
without parsing anything.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from jobs import registry
from jobs.models import JobStatus, Priority

# The keys of a creation request that this module reads.
TIMING_FIELDS = ("run_at", "delay", "priority")


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that says its offset (`Z`, `+02:00`): a time without one is refused
    rather than read in the server's zone, which the caller may not know."""

    default_error_messages = {
        "naive": "give the time with its offset, such as 2030-01-01T09:00:00Z or 2030-01-01T09:00:00+02:00",
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class TimingSerializer(serializers.Serializer):
    run_at = AwareDateTimeField(
        required=False, allow_null=True,
        help_text="when to run it (ISO 8601 with an offset), at most BESPIN_MAX_DELAY ahead; a time past runs it "
        "now. Not with `delay`.",
    )  # fmt: skip
    priority = serializers.ChoiceField(
        choices=Priority.choices, required=False, allow_null=True,
        help_text="high, default or low: workers take high first, then default, then low (default: the kind's)",
    )  # fmt: skip
    # For the OpenAPI schema (bespin.lib.schema.BespinAutoSchema): not both run_at and delay.
    schema_rules = {
        "not": {
            "required": ["run_at", "delay"],
            "properties": {"run_at": {"type": "string"}, "delay": {"type": "number"}},
        }
    }

    def get_fields(self):
        # `delay`'s bound is built per use, so that it follows BESPIN_MAX_DELAY.
        fields = super().get_fields()
        fields["delay"] = serializers.FloatField(
            required=False, allow_null=True, min_value=0, max_value=settings.MAX_DELAY.total_seconds(),
            error_messages={"max_value": _too_far()},
            help_text="seconds from now to run it, at most BESPIN_MAX_DELAY. Not with `run_at`.",
        )  # fmt: skip
        return fields


@dataclass(frozen=True)
class Timing:
    """What a new job is created with: `status` scheduled (run_at in the future) or pending."""

    status: str
    priority: str
    run_at: datetime | None = None


def timing_for(job_kind: registry.JobKind, data, *, now: datetime | None = None) -> Timing:
    """The timing of a new job of `job_kind` from `data` (a request's body or an entry of a
    batch, raw or already parsed by TimingSerializer). Raises serializers.ValidationError
    naming the field: both run_at and delay, a time without an offset, further ahead than
    BESPIN_MAX_DELAY."""
    if not any(data.get(name) is not None for name in TIMING_FIELDS):
        return Timing(status=JobStatus.PENDING, priority=job_kind.priority)
    checked = TimingSerializer(data={name: data.get(name) for name in TIMING_FIELDS})
    if not checked.is_valid():
        raise serializers.ValidationError(checked.errors)
    run_at, delay = checked.validated_data.get("run_at"), checked.validated_data.get("delay")
    priority = checked.validated_data.get("priority") or job_kind.priority
    if run_at is not None and delay is not None:
        raise serializers.ValidationError({"delay": ["give run_at or delay, not both"]})
    now = now or timezone.now()
    if delay is not None:
        run_at = now + timedelta(seconds=delay)
    if run_at is None:
        return Timing(status=JobStatus.PENDING, priority=priority)
    if run_at - now > settings.MAX_DELAY:
        raise serializers.ValidationError({"run_at": [_too_far()]})
    # A time already past runs the job now; the resource keeps the time asked for.
    status = JobStatus.SCHEDULED if run_at > now else JobStatus.PENDING
    return Timing(status=status, priority=priority, run_at=run_at)


def _too_far() -> str:
    return f"at most {settings.MAX_DELAY.total_seconds():.0f} seconds ahead (BESPIN_MAX_DELAY)"
