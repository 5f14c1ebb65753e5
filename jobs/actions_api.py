"""Changing jobs through the API: cancel or retry one (`POST /api/jobs/<id>/cancel|retry`),
or many (`POST /api/jobs/cancel|retry` with ids or a filter)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import bulk, kinds, lifecycle, selectors
from jobs.callers import CreationThrottle
from jobs.models import CANCELLABLE_STATUSES, RETRYABLE_STATUSES, JobStatus
from jobs.serializers import ErrorSerializer, JobSerializer

_ERROR = OpenApiResponse(ErrorSerializer, '`{"error": reason}`')


class _JobAction(APIView):
    """POST on a job: its owner or staff (a job without an owner: whoever holds its id)."""

    change = None

    def get_throttles(self):
        # Anonymous callers share the creation budget: a cancel/retry loop is no cheaper.
        return [CreationThrottle()]

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            403: _ERROR,
            404: _ERROR,
            409: OpenApiResponse(ErrorSerializer, "the job's status forbids it"),
        },
    )
    def post(self, request, job_id):
        job = selectors.job_or_404(job_id)
        if not selectors.may_control(request.user, job):
            raise PermissionDenied("only the job's owner or staff may do this")
        try:
            job = self.change(job=job)
        except lifecycle.JobStateConflict as error:
            return Response({"error": str(error), "status": job.status}, status=status.HTTP_409_CONFLICT)
        return Response(JobSerializer(job, context={"request": request}).data)


class JobCancel(_JobAction):
    """Cancel a scheduled, pending or running job (409 when it has finished)."""

    change = staticmethod(lifecycle.cancel_job)


class JobRetry(_JobAction):
    """Run a failed or cancelled job again as a new attempt (409 otherwise)."""

    change = staticmethod(lifecycle.retry_job)


class BulkSelectionSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, min_length=1, max_length=bulk.MAX_IDS,
        help_text=f"the jobs, by id (at most {bulk.MAX_IDS:,}); or leave out for a filter",
    )  # fmt: skip
    status = serializers.ChoiceField(choices=JobStatus.values, required=False, help_text="filter: jobs in this status")
    type = serializers.ChoiceField(choices=sorted(kinds.KINDS), required=False, help_text="filter: jobs of this kind")

    def validate(self, attrs):
        filtered = "status" in attrs or "type" in attrs
        if "ids" in attrs and filtered:
            raise serializers.ValidationError({"ids": ["give ids or a filter (status, type), not both"]})
        if "ids" not in attrs and not filtered:
            raise serializers.ValidationError(
                {"non_field_errors": ["give the jobs: ids, or a filter on status and/or type"]}
            )
        return attrs


class BulkResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="jobs changed")
    skipped = serializers.IntegerField(
        help_text="jobs named or matched but left as they were: unknown, not yours, or their status forbids it"
    )


class _BulkAction(APIView):
    """POST: change your jobs (staff: any), named by `ids` or matched by a filter."""

    change = None
    applies_to: tuple = ()

    def get_throttles(self):
        return [CreationThrottle()]

    def post(self, request):
        if not request.user.is_authenticated:
            raise NotAuthenticated("sign in (session or Authorization: Token …) to change jobs in bulk")
        selection = BulkSelectionSerializer(data=request.data)
        selection.is_valid(raise_exception=True)
        wanted = selection.validated_data
        if "ids" in wanted:
            result = self.change(jobs=selectors.jobs_visible_to(request.user), ids=wanted["ids"])
        else:
            bulk.check_filter(status=wanted.get("status"), allowed=self.applies_to)
            jobs = selectors.jobs_visible_to(request.user, status=wanted.get("status"), kind=wanted.get("type"))
            result = self.change(jobs=jobs)
        return Response(BulkResultSerializer(result).data)


_BULK_RESPONSES = {
    200: BulkResultSerializer,
    400: OpenApiResponse(ErrorSerializer, 'neither ids nor a filter, both, or a bad one: `{"error", "fields"}`'),
    401: _ERROR,
}


class JobsCancel(_BulkAction):
    """Cancel many of your jobs (staff: any): `{"ids": [...]}` (at most 1,000), or a filter
    `{"status": "pending", "type": "sleep"}` acting on at most 10,000 a call, oldest first.
    Scheduled, pending and running jobs are cancelled; the rest are skipped."""

    change = staticmethod(bulk.cancel_jobs)
    applies_to = CANCELLABLE_STATUSES

    @extend_schema(
        operation_id="jobs_bulk_cancel",
        request=BulkSelectionSerializer,
        responses=_BULK_RESPONSES,
        examples=[OpenApiExample("by id", {"ids": ["1f0c…"]}), OpenApiExample("filter", {"type": "sleep"})],
    )
    def post(self, request):
        return super().post(request)


class JobsRetry(_BulkAction):
    """Run many of your failed or cancelled jobs again (staff: any): `{"ids": [...]}` (at
    most 1,000), or a filter `{"status": "failed", "type": "sleep"}` acting on at most 10,000
    a call, oldest first. Each becomes a new attempt, enqueued at once."""

    change = staticmethod(bulk.retry_jobs)
    applies_to = RETRYABLE_STATUSES

    @extend_schema(
        operation_id="jobs_bulk_retry",
        request=BulkSelectionSerializer,
        responses=_BULK_RESPONSES,
        examples=[OpenApiExample("failed sleep jobs", {"status": "failed", "type": "sleep"})],
    )
    def post(self, request):
        return super().post(request)
