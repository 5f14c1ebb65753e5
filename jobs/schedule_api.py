"""`/api/schedules`: jobs started on a cron schedule. For signed-in users: their own
schedules (staff: every one); anyone else's is a 404."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from bespin.pagination import NewestFirst
from jobs import kinds, schedule_selectors, schedules
from jobs.cron import CRON_HINT
from jobs.models import Priority
from jobs.serializers import ErrorSerializer

_ERROR = OpenApiResponse(ErrorSerializer, '`{"error": reason}`')
_BAD_INPUT = OpenApiResponse(
    ErrorSerializer, 'bad input, such as a cron expression or time zone: `{"error": reason, "fields": {…}}`'
)


class ScheduleSerializer(serializers.Serializer):
    """The schedule resource."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    cron = serializers.CharField(read_only=True, help_text=CRON_HINT)
    timezone = serializers.CharField(read_only=True, help_text="the IANA time zone the expression is read in")
    type = serializers.CharField(source="kind", read_only=True, help_text="the kind of job each tick starts")
    params = serializers.JSONField(read_only=True)
    owner = serializers.CharField(source="owner.get_username", read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    priority = serializers.CharField(read_only=True, help_text="the priority of the jobs it starts; empty: the kind's")
    callback_url = serializers.CharField(read_only=True, help_text="where each job it starts is POSTed once it ends")
    next_run_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null while disabled")
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="the last tick that ran")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    links = serializers.SerializerMethodField()

    def get_links(self, schedule) -> dict:
        """This schedule (`self`) and the jobs it started (`jobs`)."""
        request = self.context.get("request")
        return {
            "self": reverse("api-schedule-detail", args=[schedule.id], request=request),
            "jobs": reverse("api-jobs", request=request) + f"?schedule={schedule.id}",
        }


class ScheduleInputSerializer(serializers.Serializer):
    """What POST takes (PATCH: any of it). The cron expression, the time zone, the kind and
    its parameters are checked by jobs.schedules."""

    name = serializers.CharField(max_length=200)
    cron = serializers.CharField(max_length=200, help_text=CRON_HINT)
    timezone = serializers.CharField(max_length=64, default="UTC", help_text="an IANA time zone (default UTC)")
    type = serializers.ChoiceField(choices=sorted(kinds.KINDS), help_text="the kind of job each tick starts")
    params = serializers.DictField(default=dict, help_text="the job's parameters, as for POST /api/jobs")
    enabled = serializers.BooleanField(default=True)
    priority = serializers.ChoiceField(
        choices=Priority.choices, allow_blank=True, default="",
        help_text="the priority of the jobs it starts (empty, the default: the kind's)",
    )  # fmt: skip
    callback_url = serializers.CharField(
        max_length=2000, default="", allow_blank=True,
        help_text="where each job it starts is POSTed once it ends, signed (see POST /api/me/callback-secret)",
    )  # fmt: skip


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

    @extend_schema(
        operation_id="schedules_list",
        parameters=[OpenApiParameter("cursor", str, description="from `next` or `previous`")],
        responses={200: ScheduleSerializer(many=True), 401: _ERROR, 404: _ERROR},
    )
    def get(self, request):
        _signed_in(request)
        paginator = NewestFirst()
        page = paginator.paginate_queryset(schedule_selectors.schedules_visible_to(request.user), request, view=self)
        return paginator.get_paginated_response(ScheduleSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="schedules_create",
        request=ScheduleInputSerializer,
        responses={201: ScheduleSerializer, 400: _BAD_INPUT, 401: _ERROR},
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

    @extend_schema(operation_id="schedules_retrieve", responses={200: ScheduleSerializer, 401: _ERROR, 404: _ERROR})
    def get(self, request, schedule_id):
        _signed_in(request)
        schedule = schedule_selectors.schedule_for(request.user, schedule_id)
        return Response(ScheduleSerializer(schedule, context={"request": request}).data)

    @extend_schema(
        operation_id="schedules_partial_update",
        request=ScheduleInputSerializer(partial=True),
        responses={200: ScheduleSerializer, 400: _BAD_INPUT, 401: _ERROR, 404: _ERROR},
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
        responses={204: OpenApiResponse(description="deleted; the jobs it started stay"), 401: _ERROR, 404: _ERROR},
    )
    def delete(self, request, schedule_id):
        _signed_in(request)
        schedules.delete_schedule(schedule=schedule_selectors.schedule_for(request.user, schedule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
