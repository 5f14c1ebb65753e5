"""What the OpenAPI schema says about jobs beyond what the views' serializers
say by themselves: a body per task, built from jobs.registry (a new task appears in the schema,
its client types and its docs with no change here), the time zones, the links from a job to
what can be done with it, and the WebSocket that streams it."""

from functools import cache

from drf_spectacular.serializers import PolymorphicProxySerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from bespin.lib.schema import ERROR, links, one_value
from jobs import registry
from jobs.api.serializers import JobEntryFields
from jobs.params import camel
from jobs.services.creation import MAX_BATCH


@cache
def _kind_field(name: str) -> type[serializers.ChoiceField]:
    return extend_schema_field(one_value(name))(type("KindField", (serializers.ChoiceField,), {}))


@cache
def kind_variant(job_kind: registry.JobKind, base: type[serializers.Serializer], suffix: str, needs=()) -> type:
    """`base` for one kind: `{"type": <this kind>, "params": <its serializer>, …}`; `params`
    may be left out when every parameter of the kind has a default. `needs`: fields the body
    must have besides. Made once for each: a component per class, wherever the schema names it."""
    params = job_kind.params_serializer
    needed = any(field.required for field in params().fields.values())
    name = camel(job_kind.name)
    return type(
        f"{name}{suffix}",
        (base,),
        {
            "__module__": __name__,
            "__doc__": f"A `{job_kind.name}` job. {job_kind.description}",
            "type": _kind_field(job_kind.name)(choices=[job_kind.name], help_text="the kind of job"),
            "params": params(required=needed, help_text=f"the parameters of a `{job_kind.name}` job"),
            **({"schema_rules": {"required": list(needs)}} if needs else {}),
        },
    )


def registered_kinds() -> tuple[registry.JobKind, ...]:
    """The tasks offered now, by name."""
    return tuple(registry.offered().values())


def _entry_serializers() -> dict[str, type[serializers.Serializer]]:
    return {job_kind.name: kind_variant(job_kind, JobEntryFields, "JobCreate") for job_kind in registered_kinds()}


class ByKind(PolymorphicProxySerializer):
    """drf-spectacular's choice of serializers, asked for them each time the schema is made
    (its own keeps what the first time gave): the kinds registered then, their bounds as the
    settings are then."""

    @property
    def serializers(self):
        return self._serializers()

    @serializers.setter
    def serializers(self, value):
        self._serializers = value


class ByKindExtension(PolymorphicProxySerializerExtension):
    # drf-spectacular finds an extension by the exact class.
    target_class = ByKind


JOB_CREATE = ByKind(component_name="JobCreate", serializers=_entry_serializers, resource_type_field_name="type")


@extend_schema_field(
    {"type": "array", "items": {"$ref": "#/components/schemas/JobCreateRequest"}, "minItems": 1, "maxItems": MAX_BATCH}
)
class _JobEntries(serializers.ListField):
    """Each as `POST /api/jobs` takes one (its component, made for that operation)."""


class JobBatchRequest(serializers.Serializer):
    """The body of `POST /api/jobs/batch`: up to MAX_BATCH jobs, each as `POST /api/jobs` takes one."""

    jobs = _JobEntries(min_length=1, max_length=MAX_BATCH, help_text="the jobs, created all or none, in this order")


def kind_names() -> list[str]:
    """The kinds' names, for SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]."""
    return list(registry.offered())


JOB_ID = OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="the job's id")


# What a client can do next with a job it was answered: read it again, cancel it, retry it,
# stream it, read its callbacks. `at` is where the answer holds the job's id.
def job_links(status: int, at: str = "$response.body#/id") -> dict:
    job = {"job_id": at}
    return links(
        status,
        read=("jobs_retrieve", job),
        cancel=("jobs_cancel", job),
        retry=("jobs_retry", job),
        stream=("jobs_stream", job),
        callbacks=("jobs_callbacks", job),
    )


def first_job_links(status: int = 200) -> dict:
    """From a page of jobs (`results`) to its first."""
    return job_links(status, "$response.body#/results/0/id")


_STATUS_MESSAGE = {
    "type": "object",
    "description": "The job's state: the first message on connecting, then one for every change.",
    "required": ["type", "job_id", "status", "progress", "result", "error"],
    "properties": {
        "type": {"type": "string", "enum": ["job_status"]},
        "job_id": {"type": "string", "format": "uuid"},
        "status": {"$ref": "#/components/schemas/JobStatusEnum"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "result": {"nullable": True, "description": "the job's result once completed"},
        "error": {"type": "string", "nullable": True},
    },
}
_REFUSAL_MESSAGE = {
    "type": "object",
    "description": "Why the stream is refused, sent just before the server closes it with `code`.",
    "required": ["type", "error", "code"],
    "properties": {
        "type": {"type": "string", "enum": ["error"]},
        "error": {"type": "string"},
        "code": {"type": "integer", "enum": [4400, 4401, 4403, 4404, 4503]},
    },
}


def stream_operation() -> dict:
    """`/api/ws/jobs` (also `/api/ws`): a WebSocket, which OpenAPI 3.0 has no word for. It is
    described as the GET that opens it, so that links can lead to it and the docs show it."""
    return {
        "operationId": "jobs_stream",
        "summary": "A job's status now, then every change (a WebSocket)",
        "description": "Connect with a WebSocket client (`ws://` or `wss://`; a job's `links.websocket` is the "
        "URL): the first message is the job's state now, then one arrives for every change (the 101 answer's "
        "schema). Without `job_id` a signed-in session streams your jobs, `?team=NAME` a team's, `?scope=site` "
        "every job (staff). A refusal is an `error` message, then the close code: 4400 a malformed id or "
        "parameter, 4401 not signed in, 4403 not allowed, 4404 no such job, 4503 PostgreSQL or Redis "
        "unavailable (reconnect). Messages a client sends are ignored. Also at `/api/ws`. A plain HTTP request "
        "(no `Upgrade: websocket`) is answered 426.",
        "tags": ["jobs"],
        "parameters": [
            {"in": "query", "name": "job_id", "schema": {"type": "string", "format": "uuid"}, "description": "the job"},
            {"in": "query", "name": "team", "schema": {"type": "string"}, "description": "a team's jobs (its members)"},
            {"in": "query", "name": "scope", "schema": {"type": "string", "enum": ["site"]}, "description": "staff"},
        ],
        "responses": {
            "101": {
                "description": "switched to the WebSocket protocol; each message is one of these",
                "content": {"application/json": {"schema": {"oneOf": [_STATUS_MESSAGE, _REFUSAL_MESSAGE]}}},
            },
            "426": {
                "description": "a plain HTTP request: connect with a WebSocket client",
                "content": {"application/json": {"schema": ERROR}},
                "headers": {"Upgrade": {"schema": {"type": "string", "enum": ["websocket"]}, "required": True}},
            },
        },
    }


def postprocess(result, generator, request, public):
    """drf-spectacular's hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): the WebSocket."""
    result["paths"]["/api/ws/jobs"] = {"get": stream_operation()}
    return result
