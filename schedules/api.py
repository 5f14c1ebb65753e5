"""`/api/schedules`: jobs started on a cron schedule. For signed-in users: their own
schedules (staff: every one); anyone else's is a 404."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bespin.lib.pagination import NewestFirst, paginated
from bespin.lib.schema import SIGNED_IN, ErrorSerializer, links
from jobs.callers import CreationThrottle
from schedules import selectors, services
from schedules.schema import SCHEDULE_CHANGE, SCHEDULE_CREATE
from schedules.serializers import ScheduleInputSerializer, ScheduleSerializer

_BAD_INPUT = OpenApiResponse(
    ErrorSerializer, 'bad input, such as a cron expression or time zone: `{"error": reason, "fields": {…}}`'
)
_SCHEDULE_ID = OpenApiParameter("schedule_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="the schedule")
_NOT_YOURS = OpenApiResponse(ErrorSerializer, "no schedule of yours with this id")
_TOO_MANY = OpenApiResponse(ErrorSerializer, "you already have as many schedules as one user may (the limit is named)")
_TOO_FAST = OpenApiResponse(
    ErrorSerializer, "over the creation rate, which creating and changing schedules count against"
)
_CHANGES = ("POST", "PATCH")
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


def _signed_in(request) -> None:
    if not request.user.is_authenticated:
        raise NotAuthenticated("sign in (session or Authorization: Token …) to use schedules")


class _Throttled:
    """Creating and changing a schedule count against the creation rate, as jobs do: each
    tick is a job, and each change computes ticks again."""

    def get_throttles(self):
        return [CreationThrottle()] if self.request.method in _CHANGES else []


class ScheduleList(_Throttled, APIView):
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
        return paginated(self, request, selectors.schedules_visible_to(request.user), ScheduleSerializer)

    @extend_schema(
        operation_id="schedules_create",
        description="A new schedule: each tick of `cron`, read in `timezone`, starts one job of its `type` "
        "with its `params`.",
        request=SCHEDULE_CREATE,
        parameters=[_LOCATION],
        responses={201: ScheduleSerializer, 400: _BAD_INPUT, 409: _TOO_MANY, 429: _TOO_FAST},
        auth=SIGNED_IN,
        extensions=_schedule_links(201),
    )
    def post(self, request):
        _signed_in(request)
        given = ScheduleInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            schedule = services.create_schedule(owner=request.user, **given.validated_data)
        except services.TooManySchedules as error:
            return Response({"error": str(error)}, status=status.HTTP_409_CONFLICT)
        data = ScheduleSerializer(schedule, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["links"]["self"]})


class ScheduleDetail(_Throttled, APIView):
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
        schedule = selectors.schedule_for(request.user, schedule_id)
        return Response(ScheduleSerializer(schedule, context={"request": request}).data)

    @extend_schema(
        operation_id="schedules_partial_update",
        request=SCHEDULE_CHANGE,
        parameters=[_SCHEDULE_ID],
        responses={200: ScheduleSerializer, 400: _BAD_INPUT, 404: _NOT_YOURS, 429: _TOO_FAST},
        auth=SIGNED_IN,
        extensions=_schedule_links(200),
        description="Change any field; a new expression, time zone or enabled flag computes next_run_at again, "
        "from now (ticks missed while disabled do not run).",
    )
    def patch(self, request, schedule_id):
        _signed_in(request)
        schedule = selectors.schedule_for(request.user, schedule_id)
        given = ScheduleInputSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        schedule = services.update_schedule(schedule=schedule, **given.validated_data)
        return Response(ScheduleSerializer(schedule, context={"request": request}).data)

    @extend_schema(
        operation_id="schedules_destroy",
        parameters=[_SCHEDULE_ID],
        responses={204: OpenApiResponse(description="deleted; the jobs it started stay"), 404: _NOT_YOURS},
        auth=SIGNED_IN,
    )
    def delete(self, request, schedule_id):
        _signed_in(request)
        services.delete_schedule(schedule=selectors.schedule_for(request.user, schedule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
