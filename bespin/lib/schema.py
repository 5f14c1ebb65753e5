"""The OpenAPI schema at `/api/schema/` is the API's contract: it describes every answer as it
is sent, so that a client generated from it works. The tests hold the server to it
(bespin/tests/test_api_contract.py runs Schemathesis against a live server,
test_generated_client.py drives a client generated from it).

Views declare what is theirs: their bodies, their 404s, 409s and 429s, their links. This
module adds what every operation can answer whatever it does (a bad token, an unacceptable
Accept header, a body too large or unparsable, a database that is down), the `Error` shape
all of those share, and the operations that Django's URLs do not show (webhook deliveries,
the WebSocket, the metrics).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance, is_basic_serializer
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

ERROR = {"$ref": "#/components/schemas/Error"}
# The `security` of an operation that needs a signed-in user (drf-spectacular's default also
# allows none: `{}`).
SIGNED_IN = [{"tokenAuth": []}, {"cookieAuth": []}]
FIELD_ERRORS = {"$ref": "#/components/schemas/FieldErrors"}

# What DRF's ValidationError details look like once rendered: field name -> messages, or
# the same again for a nested serializer or a list's item (keyed by its index).
_FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "Per-field messages: a list of messages for each field, or the same again for a nested "
    'object or a list\'s item (keyed by its index), e.g. `{"params": {"seconds": ["This field is required."]}}`.',
    "additionalProperties": {
        "anyOf": [{"type": "array", "items": {"anyOf": [{"type": "string"}, FIELD_ERRORS]}}, FIELD_ERRORS]
    },
}


@extend_schema_field(FIELD_ERRORS)
class FieldErrorsField(serializers.DictField):
    pass


class ErrorSerializer(serializers.Serializer):
    """Every error the API answers (bespin.lib.errors)."""

    error = serializers.CharField(help_text="why the request failed, as one line to show")
    fields = FieldErrorsField(required=False, help_text="for bad input: the messages of each field")


class QueryFilter(serializers.Serializer):
    """Query parameters checked by a serializer bound to `request.query_params`. DRF reads an
    empty value there (`?status=`) as a parameter left out, so the schema says that an optional
    one may be sent empty."""


class QueryBooleanField(serializers.BooleanField):
    """`true` or `false`, as a boolean is written in a query string (DRF's own also takes `yes`,
    `on`, `1`, `null` and more, which the schema's boolean does not say); empty: left out."""

    TRUE_VALUES = {"true", True}
    FALSE_VALUES = {"false", False}
    NULL_VALUES = {"", None}


# DRF refuses a NUL character in any CharField (PostgreSQL cannot store one), and a
# CharField that trims whitespace and may not be blank refuses one made only of whitespace:
# what Python's str.strip() removes, spelled out, as `\s` differs between regex engines
# (the schema's readers use ECMA 262's or Rust's).
_SPACE = "\\t-\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_NO_NUL = "^[^\\u0000]*$"
_NOT_BLANK = f"^[^\\u0000]*[^{_SPACE}\\u0000][^\\u0000]*$"


class BespinAutoSchema(AutoSchema):
    """drf-spectacular's, saying what DRF's fields refuse beyond their types and bounds."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            schema["pattern"] = _NOT_BLANK if field.trim_whitespace and not field.allow_blank else _NO_NUL
        return schema

    def _map_basic_serializer(self, serializer, direction):
        # What a serializer's validate() checks across fields, where it says so in JSON
        # Schema (`schema_rules`): `required` adds to the fields' own, the rest is as given.
        # A `strict` one refuses a key that is none of its fields.
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "strict", False):
            schema["additionalProperties"] = False
        for key, value in getattr(serializer, "schema_rules", {}).items() if direction == "request" else ():
            if key == "required":
                schema["required"] = list(dict.fromkeys([*schema.get("required", []), *value]))
            else:
                schema[key] = value
        return schema

    def _get_request_for_media_type(self, serializer, direction="request"):
        # drf-spectacular requires a body when a field is required. Bespin's also need one when
        # they are a choice between serializers (a oneOf), except for a change (PATCH), which
        # may change nothing, or when their rules require one of some fields (`anyOf`).
        schema, required = super()._get_request_for_media_type(serializer, direction)
        chosen = isinstance(serializer, PolymorphicProxySerializer) and self.method != "PATCH"
        return schema, required or chosen or "anyOf" in getattr(serializer, "schema_rules", {})

    def _process_override_parameters(self, direction="request"):
        parameters = super()._process_override_parameters(direction)
        for override in self.get_override_parameters():
            if not is_basic_serializer(override) or not isinstance(force_instance(override), QueryFilter):
                continue
            for name, field in force_instance(override).fields.items():
                parameter = parameters.get((name, OpenApiParameter.QUERY))
                if parameter is not None and not field.required:
                    parameter["allowEmptyValue"] = True
                    # A query string cannot say null: the empty value stands for it.
                    parameter["schema"].pop("nullable", None)
        return parameters


def links(status: int | str, **named: tuple[str, dict[str, str]]) -> dict:
    """OpenAPI links of one of an operation's answers, for `extend_schema(extensions=…)`:
    `links(201, read=("jobs_retrieve", {"job_id": "$response.body#/id"}))`. The hook below moves
    them into the answer."""
    return {
        _LINKS_KEY: {
            str(status): {
                name: {"operationId": operation, "parameters": parameters}
                for name, (operation, parameters) in named.items()
            }
        }
    }


def merge(*extensions: dict) -> dict:
    """Several `links(…)` as one `extensions` argument."""
    merged: dict = {}
    for extension in extensions:
        for status, named in extension[_LINKS_KEY].items():
            merged.setdefault(_LINKS_KEY, {}).setdefault(status, {}).update(named)
    return merged


_LINKS_KEY = "x-bespin-links"
_ONE_VALUE = "x-bespin-one-value"
_UNSAFE = {"post", "put", "patch", "delete"}
_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "required": True,
        "description": "seconds to wait before trying again",
    }
}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _errors_any_operation_can_answer(operation: dict, method: str) -> dict[str, dict]:
    """Answers DRF and the server give whatever the view: a token that is not one (401, also
    where signing in is optional), an Accept header no renderer serves (406), a body over
    BESPIN_MAX_BODY_BYTES (413, bespin.server.bodylimit, before any view), a part down (503,
    bespin.lib.outages); for a body: one that is not JSON (400, 415); and a session without its
    CSRF token on a change (403)."""
    errors = {
        "401": _error("the `Authorization` header holds no valid token, or signing in is needed"),
        "406": _error("the `Accept` header names no type the API answers (it answers JSON)"),
        "413": _error("the request body is larger than the server takes (BESPIN_MAX_BODY_BYTES)"),
        "503": _error("the database or Redis is unavailable; retry after `Retry-After` seconds"),
    }
    if "requestBody" in operation:
        errors["400"] = _error('the body is not valid JSON, or bad input: `{"error", "fields"}`')
        errors["415"] = _error("the body is not `application/json`")
    if method in _UNSAFE:
        errors["403"] = _error("signed in with a session but without its CSRF token, or not allowed")
    parameters = operation.get("parameters", [])
    if any(p["in"] == "path" for p in parameters) or any(p["name"] == "cursor" for p in parameters):
        errors["404"] = _error("no such resource, or a `cursor` this list did not give out")
    return errors


def _complete(operation: dict, method: str) -> None:
    responses = operation["responses"]
    for status, response in _errors_any_operation_can_answer(operation, method).items():
        responses.setdefault(status, response)
    for status in ("429", "503"):
        response = responses.get(status)
        if response and response.get("content", {}).get("application/json", {}).get("schema") == ERROR:
            response.setdefault("headers", {}).update(_RETRY_AFTER)
    for status, named in operation.pop(_LINKS_KEY, {}).items():
        responses[status].setdefault("links", {}).update(named)


def one_value(value: str) -> dict:
    """The schema of a string that has one possible value (a kind's `type` in its own body),
    for `extend_schema_field`. The enum is added last (postprocess): drf-spectacular's enum
    hook would make each a component of its own, named by a hash."""
    return {"type": "string", _ONE_VALUE: value}


def _one_values_in_place(schemas: dict) -> None:
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            if _ONE_VALUE in prop:
                prop["enum"] = [prop.pop(_ONE_VALUE)]


def postprocess(result, generator, request, public):
    """drf-spectacular's step after its own (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]):
    the answers every view's operation can give. The apps' hooks listed after it add what
    Django's URLs do not show (answered in front of Django, a WebSocket, a plain view),
    each operation complete as it is."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["FieldErrors"] = _FIELD_ERRORS_SCHEMA
    _one_values_in_place(schemas)
    for item in result["paths"].values():
        for method, operation in item.items():
            _complete(operation, method)
    return result
