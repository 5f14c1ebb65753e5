"""`/api/schedules`: jobs started on a cron schedule. For signed-in users: their own
schedules (staff: every one); anyone else's is a 404."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from bespin.jsontypes import JsonTyped
from bespin.pagination import NewestFirst
from bespin.schema import SIGNED_IN, ErrorSerializer, links
from jobs import kinds, schedule_selectors, schedules
from jobs.cron import CRON_HINT, CRON_PATTERN
from jobs.models import Priority
from jobs.schema import SCHEDULE_CHANGE, SCHEDULE_CREATE, TIME_ZONE
from jobs.serializers import CallbackUrlField, kind_type_errors

_BAD_INPUT = OpenApiResponse(
    ErrorSerializer, 'bad input, such as a cron expression or time zone: `{"error": reason, "fields": {…}}`'
)
_SCHEDULE_ID = OpenApiParameter("schedule_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="the schedule")
_NOT_YOURS = OpenApiResponse(ErrorSerializer, "no schedule of yours with this id")
_LOCATION = OpenApiParameter(
    "Location", OpenApiTypes.URI, OpenApiParameter.HEADER, required=True, response=[201], description="the schedule"
)


def _schedule_links(status: int, at: str = "$response.body#/id") -> dict:
    schedule = {"schedule_id": at}
    return links(
        status,
        read=("schedules_retrieve", schedule),
        change=("schedules_partial_update", schedule),
        delete=("schedules_destroy", schedule),
        jobs=("jobs_list", {"schedule": at}),
    )


class ScheduleSerializer(serializers.Serializer):
    """The schedule resource."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    cron = serializers.CharField(read_only=True, help_text=CRON_HINT)
    timezone = serializers.CharField(read_only=True, help_text="the IANA time zone the expression is read in")
    type = serializers.CharField(source="kind", read_only=True, help_text="the kind of job each tick starts")
    params = serializers.DictField(read_only=True)
    owner = serializers.CharField(source="owner.get_username", read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    priority = serializers.CharField(read_only=True, help_text="the priority of the jobs it starts; empty: the kind's")
    callback_url = serializers.CharField(read_only=True, help_text="where each job it starts is POSTed once it ends")
    next_run_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null while disabled")
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="the last tick that ran")
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
    the time zone, the kind and its parameters are checked by jobs.schedules; the OpenAPI
    schema shows one body per kind (jobs.schema)."""

    name = serializers.CharField(max_length=200)
    cron = CronField(max_length=200, help_text=f"{CRON_HINT}; its days must be in one of its months")
    timezone = TimezoneField(max_length=64, default="UTC", help_text="an IANA time zone (default UTC)")
    type = serializers.ChoiceField(choices=sorted(kinds.KINDS), help_text="the kind of job each tick starts")
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


def _changes(fields: dict) -> dict:
    """The input's fields under the services' names."""
    names = {"timezone": "tz", "type": "kind"}
    return {names.get(name, name): value for name, value in fields.items()}


def _signed_in(request) -> None:
    if not request.user.is_authenticated:
        raise NotAuthenticated("sign in (session or Authorization: Token …) to use schedules")


class ScheduleList(APIView):
    """GET: your schedules, newest first (staff: every one). POST: a new schedule,
    `{"name": "nightly", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "type": "sleep",
    "params": {"seconds": 5}}`; each tick starts one job."""

    # For the schema: GET answers pages of schedules.
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="schedules_list",
        description="Your schedules, newest first (staff: every one), 20 a page, as jobs are listed.",
        responses=ScheduleSerializer(many=True),
        auth=SIGNED_IN,
        extensions=_schedule_links(200, "$response.body#/results/0/id"),
    )
    def get(self, request):
        _signed_in(request)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(schedule_selectors.schedules_visible_to(request.user), request, view=self)
        return paginator.get_paginated_response(ScheduleSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="schedules_create",
        description="A new schedule: each tick of `cron`, read in `timezone`, starts one job of its `type` "
        "with its `params`.",
        request=SCHEDULE_CREATE,
        parameters=[_LOCATION],
        responses={201: ScheduleSerializer, 400: _BAD_INPUT},
        auth=SIGNED_IN,
        extensions=_schedule_links(201),
    )
    def post(self, request):
        _signed_in(request)
        given = ScheduleInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        schedule = schedules.create_schedule(owner=request.user, **_changes(given.validated_data))
        data = ScheduleSerializer(schedule, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["links"]["self"]})


class ScheduleDetail(APIView):
    """One schedule: its owner's and staff's (anyone else: 404)."""

    @extend_schema(
        operation_id="schedules_retrieve",
        parameters=[_SCHEDULE_ID],
        responses={200: ScheduleSerializer, 404: _NOT_YOURS},
        auth=SIGNED_IN,
        extensions=_schedule_links(200),
    )
    def get(self, request, schedule_id):
        _signed_in(request)
        schedule = schedule_selectors.schedule_for(request.user, schedule_id)
        return Response(ScheduleSerializer(schedule, context={"request": request}).data)

    @extend_schema(
        operation_id="schedules_partial_update",
        request=SCHEDULE_CHANGE,
        parameters=[_SCHEDULE_ID],
        responses={200: ScheduleSerializer, 400: _BAD_INPUT, 404: _NOT_YOURS},
        auth=SIGNED_IN,
        extensions=_schedule_links(200),
        description="Change any field; a new expression, time zone or enabled flag computes next_run_at again, "
        "from now (ticks missed while disabled do not run).",
    )
    def patch(self, request, schedule_id):
        _signed_in(request)
        schedule = schedule_selectors.schedule_for(request.user, schedule_id)
        given = ScheduleInputSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        schedule = schedules.update_schedule(schedule=schedule, **_changes(given.validated_data))
        return Response(ScheduleSerializer(schedule, context={"request": request}).data)

    @extend_schema(
        operation_id="schedules_destroy",
        parameters=[_SCHEDULE_ID],
        responses={204: OpenApiResponse(description="deleted; the jobs it started stay"), 404: _NOT_YOURS},
        auth=SIGNED_IN,
    )
    def delete(self, request, schedule_id):
        _signed_in(request)
        schedules.delete_schedule(schedule=schedule_selectors.schedule_for(request.user, schedule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
