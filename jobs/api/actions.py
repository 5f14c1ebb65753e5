"""Changing jobs through the API: cancel or retry one (`POST /api/jobs/<id>/cancel|retry`),
or many (`POST /api/jobs/cancel|retry` with ids or a filter)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from bespin.lib.jsontypes import JsonTyped
from bespin.lib.schema import SIGNED_IN, ErrorSerializer
from jobs import selectors
from jobs.api.responses import too_many
from jobs.api.schema import JOB_ID, job_links
from jobs.api.serializers import JobSerializer, LoadedTaskField
from jobs.callers import CreationThrottle, caller_of
from jobs.models import CANCELLABLE_STATUSES, RETRYABLE_STATUSES, JobStatus
from jobs.services import bulk, caps, lifecycle


class JobConflictSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="why the job's status forbids it")
    status = serializers.ChoiceField(choices=JobStatus.choices, help_text="the job's status")


class _JobAction(APIView):
    """POST on a job: its owner or staff (a job without an owner: whoever holds its id)."""

    change = None
    # Whether the change makes an unfinished job, which counts against the caller's cap.
    capped = False

    def get_throttles(self):
        # Anonymous callers share the creation budget: a cancel/retry loop is no cheaper.
        return [CreationThrottle()]

    @extend_schema(
        request=None,
        parameters=[JOB_ID],
        responses={
            200: JobSerializer,
            403: OpenApiResponse(ErrorSerializer, "not the job's owner or staff"),
            404: OpenApiResponse(ErrorSerializer, "no job with this id"),
            409: OpenApiResponse(JobConflictSerializer, "the job's status forbids it"),
            429: OpenApiResponse(
                ErrorSerializer,
                "over the creation rate, which these count against, or (retry) the cap on your unfinished jobs",
            ),
        },
        extensions=job_links(200),
    )
    def post(self, request, job_id):
        job = selectors.job_or_404(job_id)
        if not selectors.may_control(request.user, job):
            raise PermissionDenied("only the job's owner or staff may do this")
        try:
            job = self.change(job=job, **({"caller": caller_of(request)} if self.capped else {}))
        except lifecycle.JobStateConflict as error:
            return Response({"error": str(error), "status": job.status}, status=status.HTTP_409_CONFLICT)
        except caps.TooManyUnfinished as error:
            return too_many(error)
        return Response(JobSerializer(job, context={"request": request}).data)


@extend_schema_view(post=extend_schema(operation_id="jobs_cancel"))
class JobCancel(_JobAction):
    """Cancel a scheduled, pending or running job (409 when it has finished)."""

    change = staticmethod(lifecycle.cancel_job)


@extend_schema_view(post=extend_schema(operation_id="jobs_retry"))
class JobRetry(_JobAction):
    """Run a failed or cancelled job again as a new attempt (409 otherwise)."""

    change = staticmethod(lifecycle.retry_job)
    capped = True


class BulkSelectionSerializer(JsonTyped, serializers.Serializer):
    """The jobs a bulk change acts on: `ids`, or a filter on `status` and/or `type`. The
    statuses a filter may name are those the change applies to (`statuses`)."""

    statuses: tuple = ()
    # The same, for the OpenAPI schema (bespin.lib.schema.BespinAutoSchema): ids or a filter, not both.
    schema_rules = {
        "anyOf": [{"required": ["ids"]}, {"required": ["status"]}, {"required": ["type"]}],
        "not": {"required": ["ids"], "anyOf": [{"required": ["status"]}, {"required": ["type"]}]},
    }

    def get_fields(self):
        return {
            "ids": serializers.ListField(
                child=serializers.UUIDField(), required=False, min_length=1, max_length=bulk.MAX_IDS,
                help_text=f"the jobs, by id (at most {bulk.MAX_IDS:,}); or leave out for a filter",
            ),
            "status": serializers.ChoiceField(
                choices=self.statuses, required=False, help_text="filter: jobs in this status",
                error_messages={"invalid_choice": f"{{input}} is not one of the statuses this applies to: "
                                                  f"{', '.join(self.statuses)}"},
            ),
            "type": LoadedTaskField(required=False, help_text="filter: jobs of this task"),
        }  # fmt: skip

    def validate(self, attrs):
        filtered = "status" in attrs or "type" in attrs
        if "ids" in attrs and filtered:
            raise serializers.ValidationError({"ids": ["give ids or a filter (status, type), not both"]})
        if "ids" not in attrs and not filtered:
            raise serializers.ValidationError(
                {"non_field_errors": ["give the jobs: ids, or a filter on status and/or type"]}
            )
        return attrs


class CancelSelectionSerializer(BulkSelectionSerializer):
    statuses = CANCELLABLE_STATUSES


class RetrySelectionSerializer(BulkSelectionSerializer):
    statuses = RETRYABLE_STATUSES


class BulkResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(min_value=0, help_text="jobs changed")
    skipped = serializers.IntegerField(
        min_value=0,
        help_text="jobs named or matched but left as they were: unknown, not yours, or their status forbids it",
    )


class _BulkAction(APIView):
    """POST: change your jobs (staff: any), named by `ids` or matched by a filter."""

    change = None
    selection = BulkSelectionSerializer
    capped = False

    def get_throttles(self):
        return [CreationThrottle()]

    def post(self, request):
        if not request.user.is_authenticated:
            raise NotAuthenticated("sign in (session or Authorization: Token …) to change jobs in bulk")
        selection = self.selection(data=request.data)
        selection.is_valid(raise_exception=True)
        wanted = selection.validated_data
        extra = {"caller": caller_of(request)} if self.capped else {}
        try:
            if "ids" in wanted:
                result = self.change(jobs=selectors.jobs_visible_to(request.user), ids=wanted["ids"], **extra)
            else:
                jobs = selectors.jobs_visible_to(request.user, status=wanted.get("status"), kind=wanted.get("type"))
                result = self.change(jobs=jobs, **extra)
        except caps.TooManyUnfinished as error:
            return too_many(error)
        return Response(BulkResultSerializer(result).data)


def _bulk(operation_id: str, selection: type[BulkSelectionSerializer], example: dict):
    return extend_schema(
        operation_id=operation_id,
        request=selection,
        responses={
            200: BulkResultSerializer,
            400: OpenApiResponse(ErrorSerializer, 'no ids nor filter, both, or a bad one: `{"error", "fields"}`'),
            429: OpenApiResponse(
                ErrorSerializer, "over the creation rate, which these count against, or (retry) the cap on your "
                "unfinished jobs"
            ),
        },
        auth=SIGNED_IN,
        examples=[OpenApiExample("by id", {"ids": ["1f0c0000-0000-4000-8000-000000000000"]}),
                  OpenApiExample("filter", example)],
    )  # fmt: skip


@extend_schema_view(post=_bulk("jobs_bulk_cancel", CancelSelectionSerializer, {"status": "pending", "type": "sleep"}))
class JobsCancel(_BulkAction):
    """Cancel many of your jobs (staff: any): `{"ids": [...]}` (at most 1,000), or a filter
    `{"status": "pending", "type": "sleep"}` acting on at most 10,000 a call, oldest first.
    Scheduled, pending and running jobs are cancelled; the rest are skipped."""

    change = staticmethod(bulk.cancel_jobs)
    selection = CancelSelectionSerializer


@extend_schema_view(post=_bulk("jobs_bulk_retry", RetrySelectionSerializer, {"status": "failed", "type": "sleep"}))
class JobsRetry(_BulkAction):
    """Run many of your failed or cancelled jobs again (staff: any): `{"ids": [...]}` (at
    most 1,000), or a filter `{"status": "failed", "type": "sleep"}` acting on at most 10,000
    a call, oldest first. Each becomes a new attempt, enqueued at once."""

    change = staticmethod(bulk.retry_jobs)
    selection = RetrySelectionSerializer
    capped = True
