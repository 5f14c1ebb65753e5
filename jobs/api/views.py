from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, ParseError, Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from bespin.lib.pagination import NewestFirst, paginated
from bespin.lib.schema import SIGNED_IN, ErrorSerializer, merge
from jobs import registry, selectors
from jobs.api.responses import too_many
from jobs.api.schema import JOB_CREATE, JOB_ID, JobBatchRequest, first_job_links, job_links
from jobs.api.serializers import (
    JobBatchResultSerializer,
    JobCreateSerializer,
    JobListFilter,
    JobSerializer,
    RandomTextBodySerializer,
    kind_type_errors,
)
from jobs.callers import CreationThrottle, caller_of
from jobs.services import creation
from jobs.tasks import RANDOM_TEXT
from jobs.timing import TIMING_FIELDS

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_MAX = 255

_BAD_INPUT = OpenApiResponse(ErrorSerializer, 'bad input: `{"error": reason, "fields": {…}}`')
_IDEMPOTENCY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX, "pattern": "^[ -~\u00a1-\u00ac\u00ae-\u00ff]*$"},
    OpenApiParameter.HEADER,
    description="the same key from the same client within 24 h returns the first answer (200, "
    f"`{REPLAYED_HEADER}: true`) instead of creating again; at most {IDEMPOTENCY_KEY_MAX} printable characters",
)
_REPLAYED = OpenApiParameter(
    REPLAYED_HEADER, str, OpenApiParameter.HEADER, enum=["true"], required=True, response=[200],
    description="this answers a request made before with the same Idempotency-Key",
)  # fmt: skip
_LOCATION = OpenApiParameter(
    "Location", OpenApiTypes.URI, OpenApiParameter.HEADER, required=True, response=[200, 201], description="the job"
)
_REFUSED = {
    422: OpenApiResponse(ErrorSerializer, "Idempotency-Key reused with different parameters"),
    401: OpenApiResponse(ErrorSerializer, "anonymous creation is off (BESPIN_ANON_CREATE=0): sign in"),
    429: OpenApiResponse(ErrorSerializer, "over the creation rate (see Retry-After), or too many unfinished jobs"),
}
_CREATE = {
    "parameters": [_IDEMPOTENCY, _REPLAYED, _LOCATION],
    "responses": {
        201: OpenApiResponse(JobSerializer, "created"),
        200: OpenApiResponse(JobSerializer, "replay of an Idempotency-Key: the first job"),
        400: _BAD_INPUT,
        **_REFUSED,
    },
    "extensions": merge(job_links(201), job_links(200)),
}


def _idempotency_key(request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise ValidationError({IDEMPOTENCY_HEADER: [f"at most {IDEMPOTENCY_KEY_MAX} printable characters"]})
    return key


def _creating_caller(request):
    caller = caller_of(request)
    if caller.anonymous and not settings.ANON_CREATE:
        raise NotAuthenticated("sign in to create jobs (Authorization: Token …, or a session)")
    return caller


def _refused(error: Exception) -> Response:
    """422 for a reused Idempotency-Key, 429 for a caller at its cap of unfinished jobs."""
    if isinstance(error, creation.IdempotencyKeyReused):
        return Response({"error": str(error)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    return too_many(error)


def _create(request, *, kind: str, params, callback_url: str = "", timing: dict | None = None) -> Response:
    """Create through the service, honouring an Idempotency-Key; 201, or 200 for a replay."""
    key = _idempotency_key(request)
    caller = _creating_caller(request)
    try:
        created = creation.create_job_once(
            kind=kind, params=params, caller=caller, idempotency_key=key, callback_url=callback_url, timing=timing
        )
    except (creation.IdempotencyKeyReused, creation.TooManyUnfinished) as error:
        return _refused(error)
    data = JobSerializer(created.job, context={"request": request}).data
    headers = {"Location": data["links"]["self"]}
    if created.replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(data, status=status.HTTP_200_OK if created.replayed else status.HTTP_201_CREATED, headers=headers)


class JobList(APIView):
    """GET: your jobs, newest first (staff: every job). POST: create a job of any kind,
    `{"type": "sleep", "params": {"seconds": 5}}`, optionally later (`run_at` or `delay`) and
    at a `priority`."""

    # For the schema: GET answers pages of the jobs (NewestFirst), not a list.
    pagination_class = NewestFirst

    def get_throttles(self):
        return [CreationThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="jobs_list",
        description="Your jobs, newest first (staff: every job), 20 a page; `next` and `previous` carry the "
        "`cursor` of the pages beside.",
        parameters=[JobListFilter],
        responses={200: JobSerializer(many=True), 400: _BAD_INPUT},
        auth=SIGNED_IN,
        extensions=first_job_links(),
    )
    def get(self, request):
        if not request.user.is_authenticated:
            raise NotAuthenticated("sign in (session or Authorization: Token …) to list jobs")
        filters = JobListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        jobs = selectors.jobs_visible_to(
            request.user, status=wanted.get("status"), kind=wanted.get("type"), schedule=wanted.get("schedule")
        )
        return paginated(self, request, jobs, JobSerializer)

    @extend_schema(
        operation_id="jobs_create",
        description="Create a job of any kind: its `type` says which, and which `params` it takes. Optionally "
        "later (`run_at` or `delay`), at a `priority`, with a `callback_url`.",
        request=JOB_CREATE,
        **_CREATE,
    )
    def post(self, request):
        envelope = JobCreateSerializer(data=_json_object(request))
        envelope.is_valid(raise_exception=True)
        fields = envelope.validated_data
        timing = {name: fields[name] for name in TIMING_FIELDS if name in fields}
        return _create(
            request, kind=fields["type"], params=fields["params"], callback_url=fields["callback_url"], timing=timing
        )


class RandomTextJob(APIView):
    """Create a random_text job: `?length=N` or `{"length": N}` (words, default 100); a
    `callback_url` the same way."""

    throttle_classes = [CreationThrottle]

    @extend_schema(
        operation_id="jobs_random_text_create",
        request=RandomTextBodySerializer,
        **{**_CREATE, "parameters": [RandomTextBodySerializer, *_CREATE["parameters"]]},
    )
    def post(self, request):
        body = _json_object(request)
        taken = RandomTextBodySerializer().fields
        if unknown := sorted(set(request.query_params) - set(taken)):
            message = f"unknown query parameter; this takes: {', '.join(taken)}"
            raise ValidationError({name: [message] for name in unknown})
        # The body's values are checked even where the query string's are used instead (an
        # empty one has nothing to check).
        if body:
            RandomTextBodySerializer(data=body).is_valid(raise_exception=True)
        params = {}
        if "length" in request.query_params:
            params["length"] = request.query_params["length"]
        elif "length" in body:
            params["length"] = body["length"]
        callback_url = request.query_params.get("callback_url", body.get("callback_url") or "")
        try:
            return _create(request, kind=RANDOM_TEXT, params=params, callback_url=callback_url)
        except ValidationError as error:
            # This endpoint takes `length` itself, not a `params` object: report it that way.
            raise ValidationError(error.detail.get("params", error.detail)) from None


class JobBatch(APIView):
    """Create 1 to 1,000 jobs at once: `{"jobs": [{"type", "params", "callback_url"}, …]}`
    (each may have `run_at` or `delay`, and `priority`),
    all or none, answered in the order given. Every entry is checked first; a bad one is named
    by its index. The caller's rate and cap count each job."""

    @extend_schema(
        operation_id="jobs_batch_create",
        request=JobBatchRequest,
        parameters=[_IDEMPOTENCY, _REPLAYED],
        responses={
            201: OpenApiResponse(JobBatchResultSerializer, "created, in the order given"),
            200: OpenApiResponse(JobBatchResultSerializer, "replay of an Idempotency-Key: the first batch"),
            400: OpenApiResponse(ErrorSerializer, 'bad input; a bad job is named by its index: `{"jobs": {"3": …}}`'),
            **_REFUSED,
        },
        extensions=merge(job_links(201, "$response.body#/jobs/0/id"), job_links(200, "$response.body#/jobs/0/id")),
    )
    def post(self, request):
        body = _json_object(request)
        entries = body.get("jobs")
        if not isinstance(entries, list) or not 1 <= len(entries) <= creation.MAX_BATCH:
            raise ValidationError({"jobs": [f"a list of 1 to {creation.MAX_BATCH} jobs"]})
        # Each entry's types first; the serializers read once for the lot.
        shape = JobCreateSerializer()
        params = {name: kind.params_serializer() for name, kind in registry.offered().items()}
        wrong = {str(i): error for i, entry in enumerate(entries) if (error := kind_type_errors(shape, entry, params))}
        if wrong:
            raise ValidationError({"jobs": wrong})
        key = _idempotency_key(request)
        caller = _creating_caller(request)
        throttle = CreationThrottle()
        if not throttle.allow(request, count=len(entries)):
            raise Throttled(throttle.wait())
        try:
            batch = creation.create_jobs(entries=entries, caller=caller, idempotency_key=key)
        except (creation.IdempotencyKeyReused, creation.TooManyUnfinished) as error:
            return _refused(error)
        data = {"jobs": JobSerializer(batch.jobs, many=True, context={"request": request}).data}
        headers = {REPLAYED_HEADER: "true"} if batch.replayed else {}
        return Response(data, status=status.HTTP_200_OK if batch.replayed else status.HTTP_201_CREATED, headers=headers)


class JobDetail(APIView):
    """One job by its id."""

    @extend_schema(
        operation_id="jobs_retrieve",
        parameters=[JOB_ID],
        responses={200: JobSerializer, 404: OpenApiResponse(ErrorSerializer, "no job with this id")},
        extensions=job_links(200),
    )
    def get(self, request, job_id):
        return Response(JobSerializer(selectors.job_or_404(job_id), context={"request": request}).data)


def _json_object(request) -> dict:
    # An empty body parses to an empty QueryDict, itself a dict: no parameters given.
    if not isinstance(request.data, dict):
        raise ParseError("the request body must be a JSON object")
    return request.data
