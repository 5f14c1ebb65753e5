"""The schedule resource, and what POST and PATCH /api/schedules take."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.reverse import reverse

from bespin.lib.jsontypes import JsonTyped
from jobs.api.serializers import CallbackUrlField, TaskTypeField, kind_type_errors
from jobs.models import Priority
from schedules.cron import CRON_HINT, CRON_PATTERN

# The component schedules.schema adds: every IANA time zone name.
TIME_ZONE = {"$ref": "#/components/schemas/TimeZone"}


class ScheduleSerializer(serializers.Serializer):
    """The schedule resource."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    cron = serializers.CharField(read_only=True, help_text=CRON_HINT)
    timezone = serializers.CharField(read_only=True, help_text="the IANA time zone the expression is read in")
    type = serializers.CharField(read_only=True, help_text="the kind of job each tick starts")
    params = serializers.DictField(read_only=True)
    owner = serializers.CharField(source="owner.get_username", read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    disabled_reason = serializers.CharField(
        read_only=True, help_text="why Bespin turned it off (its task gone, say); empty otherwise"
    )
    priority = serializers.CharField(read_only=True, help_text="the priority of the jobs it starts; empty: the kind's")
    callback_url = serializers.CharField(read_only=True, help_text="where each job it starts is POSTed once it ends")
    next_run_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null while disabled")
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="the last tick that ran")
    skipped_ticks = serializers.IntegerField(
        read_only=True, help_text="ticks that started no job: the owner had as many unfinished jobs as they may"
    )
    last_skip_reason = serializers.CharField(read_only=True, help_text="why the latest skipped tick started no job")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(
        {
            "type": "object",
            "required": ["self", "jobs"],
            "properties": {
                "self": {"type": "string", "format": "uri", "description": "this schedule"},
                "jobs": {"type": "string", "format": "uri", "description": "the jobs it started"},
            },
        }
    )
    def get_links(self, schedule) -> dict:
        """This schedule (`self`) and the jobs it started (`jobs`)."""
        request = self.context.get("request")
        return {
            "self": reverse("api-schedule-detail", args=[schedule.id], request=request),
            "jobs": reverse("api-jobs", request=request) + f"?schedule={schedule.id}",
        }


@extend_schema_field({"type": "string", "maxLength": 200, "pattern": CRON_PATTERN})
class CronField(serializers.CharField):
    pass


@extend_schema_field(TIME_ZONE)
class TimezoneField(serializers.CharField):
    pass


class ScheduleInputSerializer(JsonTyped, serializers.Serializer):
    """What POST takes (PATCH: any of it, `type` and `params` together). The cron expression,
    the time zone, the kind and its parameters are checked by schedules.services; the OpenAPI
    schema shows one body per kind (jobs.api.schema)."""

    name = serializers.CharField(max_length=200)
    cron = CronField(max_length=200, help_text=f"{CRON_HINT}; its days must be in one of its months")
    timezone = TimezoneField(max_length=64, default="UTC", help_text="an IANA time zone (default UTC)")
    type = TaskTypeField(help_text="the task each tick starts")
    params = serializers.DictField(default=dict, help_text="the job's parameters, as for POST /api/jobs")
    enabled = serializers.BooleanField(default=True)
    priority = serializers.ChoiceField(
        choices=Priority.choices, allow_blank=True, default="",
        help_text="the priority of the jobs it starts (empty, the default: the kind's)",
    )  # fmt: skip
    callback_url = CallbackUrlField(
        default="",
        help_text="where each job it starts is POSTed once it ends, signed (see POST /api/me/callback-secret)",
    )

    def type_errors(self, data) -> dict:
        return kind_type_errors(self, data)

    def validate(self, attrs):
        # A kind's parameters are read by the kind: a change of one alone would be judged by
        # the schedule's other, which its caller may not know.
        if self.partial and ("type" in attrs) != ("params" in attrs):
            missing = "params" if "type" in attrs else "type"
            raise ValidationError({missing: ["change type and params together"]})
        return attrs
