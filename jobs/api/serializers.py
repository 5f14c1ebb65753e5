from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bespin.lib.addresses import MAX_URL_LENGTH, URL_PATTERN, RefusedUrl, parse
from bespin.lib.jsontypes import JsonTyped, type_errors
from bespin.lib.schema import QueryFilter
from jobs import registry
from jobs.models import Job, JobStatus, Priority
from jobs.timing import TimingSerializer

_TIME = serializers.DateTimeField()


# Stands for a job's id in the link templates (a UUID, as the URL patterns want).
_ANY_ID = "00000000-0000-0000-0000-000000000000"


class JobSerializer(serializers.Serializer):
    """A job: what it runs, its state, its result or error, and where to follow it."""

    # The fields say what each key holds (the OpenAPI schema reads them); to_representation
    # writes the dict directly, which is what DRF's own rendering gives (a test compares them)
    # for much less on a hot path: a ModelSerializer builds its fields again for every
    # instance.

    id = serializers.UUIDField(read_only=True)
    type = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=JobStatus.choices, read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, read_only=True)
    progress = serializers.IntegerField(min_value=0, max_value=100, read_only=True)
    params = serializers.DictField(read_only=True, help_text="its kind's parameters, as checked")
    result = serializers.JSONField(read_only=True, allow_null=True)
    error = serializers.CharField(read_only=True)
    attempt = serializers.IntegerField(min_value=1, read_only=True)
    run_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="when it was asked to run; a `scheduled` job waits for it"
    )
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    callback_url = serializers.CharField(read_only=True)
    schedule = serializers.UUIDField(
        source="schedule_id", read_only=True, allow_null=True, help_text="the schedule that started it, if one did"
    )
    links = serializers.SerializerMethodField()

    def to_representation(self, job: Job) -> dict:
        return {
            "id": str(job.id),
            "type": job.type,
            "status": job.status,
            "priority": job.priority,
            "progress": job.progress,
            "params": job.params,
            "result": job.result,
            "error": job.error,
            "attempt": job.attempt,
            "run_at": _TIME.to_representation(job.run_at),
            "created_at": _TIME.to_representation(job.created_at),
            "started_at": _TIME.to_representation(job.started_at),
            "finished_at": _TIME.to_representation(job.finished_at),
            "callback_url": job.callback_url,
            "schedule": str(job.schedule_id) if job.schedule_id is not None else None,
            "links": self.get_links(job),
        }

    @extend_schema_field(
        {
            "type": "object",
            "required": ["self", "websocket"],
            "properties": {
                "self": {"type": "string", "format": "uri", "description": "this job"},
                "websocket": {"type": "string", "description": "its status stream: `ws://` or `wss://`"},
            },
        }
    )
    def get_links(self, job: Job) -> dict:
        """This job in the API (`self`) and its status stream (`websocket`)."""
        job_id = str(job.id)
        return {name: template.replace(_ANY_ID, job_id) for name, template in self._link_templates().items()}

    def _link_templates(self) -> dict:
        """The links of a job whose id is _ANY_ID, worked out once per serializer: the jobs of a
        list or a batch share them, and reverse() and the host check cost more than the rest
        of a job's resource."""
        if (templates := self.__dict__.get("_templates")) is not None:
            return templates
        # On the request's host; without a request (a callback's body), on the context's
        # `public_url` origin, as a request to it would give them.
        request = self.context.get("request")
        path = _detail_path(get_script_prefix())
        templates = {"self": request.build_absolute_uri(path) if request is not None else path}
        stream = f"/api/ws/jobs?job_id={_ANY_ID}"
        if request is not None:
            templates["websocket"] = f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}{stream}"
        elif origin := self.context.get("public_url"):
            scheme, host = origin.split("://", 1)
            templates["self"] = origin + templates["self"]
            templates["websocket"] = f"{'wss' if scheme == 'https' else 'ws'}://{host}{stream}"
        self.__dict__["_templates"] = templates
        return templates


@lru_cache(maxsize=8)
def _detail_path(script_prefix: str) -> str:
    # reverse() builds the path under the prefix the server runs the project at.
    return reverse("api-job-detail", args=[_ANY_ID])


# The pattern refuses "": drf-spectacular adds it as a choice of its own (maxLength 0).
@extend_schema_field({"type": "string", "maxLength": MAX_URL_LENGTH, "pattern": f"^(?:{URL_PATTERN})$"})
class CallbackUrlField(serializers.CharField):
    """An http(s) URL (bespin.lib.addresses), or empty for none."""

    def __init__(self, **kwargs):
        help_text = (
            "http(s) URL that Bespin POSTs the job to, signed, once it ends; empty: none. Needs sign-in and a "
            "callback secret (POST /api/me/callback-secret), and a public address"
        )
        kwargs = {"required": False, "allow_blank": True, "max_length": MAX_URL_LENGTH, "help_text": help_text,
                  **kwargs}  # fmt: skip
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        # What the URL itself shows, checked as soon as it is read; whether its owner may
        # have callbacks, and where it points, when the job is created (callbacks.validation).
        url = super().to_internal_value(data)
        try:
            parse(url)
        except RefusedUrl as refused:
            raise serializers.ValidationError(f"the callback URL {refused}") from None
        return url


class TaskTypeField(serializers.ChoiceField):
    """A job's `type`: one of the tasks offered to clients, read when the field is made (as a
    serializer is, for each request), so that the tasks loaded now are its choices."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "the task to run (GET /api/ lists those offered)")
        super().__init__(choices=list(registry.offered()), **kwargs)

    def fail(self, key, **kwargs):
        if key == "invalid_choice":
            raise serializers.ValidationError(registry.unknown_type_message(kwargs.get("input")), code=key)
        super().fail(key, **kwargs)


class LoadedTaskField(serializers.ChoiceField):
    """A filter's task: any task loaded here, offered to clients or not (its choices read when
    the field is made, for each request)."""

    def __init__(self, **kwargs):
        super().__init__(choices=list(registry.registered()), **kwargs)

    def fail(self, key, **kwargs):
        if key == "invalid_choice":
            loaded = ", ".join(registry.registered())
            name = str(kwargs.get("input"))[:200]
            raise serializers.ValidationError(f"no task named {name!r} is loaded; the tasks loaded: {loaded}", code=key)
        super().fail(key, **kwargs)


class JobEntryFields(TimingSerializer):
    """What every job's creation may say besides its kind and parameters."""

    # No other key: the schema's additionalProperties: false (JobCreateSerializer refuses one).
    strict = True

    callback_url = CallbackUrlField(default="")


class JobCreateSerializer(JsonTyped, JobEntryFields):
    """The envelope of `POST /api/jobs`; the kind's own serializer checks `params`, and
    jobs.timing `run_at`, `delay` and `priority` together. The OpenAPI schema shows one body
    per kind instead (jobs.api.schema)."""

    type = TaskTypeField()
    params = serializers.DictField(required=False, default=dict)

    def type_errors(self, data) -> dict:
        return kind_type_errors(self, data)


def kind_type_errors(serializer: serializers.Serializer, data, params: dict | None = None) -> dict:
    """The values of a JSON body (a job, a schedule) whose types are not those the API's
    schema gives them (bespin.lib.jsontypes): its own fields', then its `params`' by its kind's
    serializer (from `params`, kind name -> serializer, when given: a batch's many entries)."""
    errors = type_errors(serializer, data)
    # Only a task loaded here, looked up by name: a client's `type` must never make the server
    # import a module (registry.get_kind's fallback, for code and the workers). A task loaded
    # but not offered has no shape in a batch's `params`; validation refuses it next.
    kind_name = data.get("type") if isinstance(data, dict) else None
    job_kind = registry.registered().get(kind_name) if isinstance(kind_name, str) else None
    if job_kind is None or "params" in errors:
        return errors
    shape = params.get(job_kind.name) if params is not None else job_kind.params_serializer()
    if shape is not None and (wrong := type_errors(shape, data.get("params"))):
        errors["params"] = wrong
    return errors


class JobBatchResultSerializer(serializers.Serializer):
    jobs = JobSerializer(many=True)


class JobListFilter(QueryFilter):
    status = serializers.ChoiceField(choices=JobStatus.values, required=False)
    type = LoadedTaskField(required=False, help_text="the jobs of this task")
    schedule = serializers.UUIDField(required=False, help_text="the jobs one schedule started")


class RandomTextBodySerializer(JsonTyped, serializers.Serializer):
    """The body `POST /api/jobs/random-text` may have (its query string wins)."""

    def get_fields(self):
        # Built per use, as the kind's own: the maximum follows BESPIN_RANDOM_TEXT_MAX_WORDS.
        return {
            "length": serializers.IntegerField(
                required=False, min_value=1, max_value=settings.RANDOM_TEXT_MAX_WORDS,
                help_text="words (default 100); in both the query string and the body, the query's counts",
            ),
            "callback_url": CallbackUrlField(
                help_text="as for POST /api/jobs; in both the query string and the body, the query's counts"
            ),
        }  # fmt: skip


class LivenessSerializer(serializers.Serializer):
    message = serializers.CharField()
    timestamp = serializers.DateTimeField()


class ApiInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    description = serializers.CharField()
    links = serializers.DictField(child=serializers.CharField())
    job_types = serializers.ListField(child=serializers.CharField())
