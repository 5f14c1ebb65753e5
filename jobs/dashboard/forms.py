"""The dashboard's forms: the jobs list's filters, and the form that starts a job of each
kind, built from the kind's parameter serializer so that a new kind gets its form (bounds
included) without a template change."""

import json
from dataclasses import dataclass, field

from django import forms
from django.core.validators import RegexValidator
from django.urls import reverse
from django.utils.html import format_html
from rest_framework import serializers
from rest_framework.fields import empty

from bespin.lib import jsonbody
from bespin.lib.errors import flat_messages
from jobs import registry
from jobs.models import JobStatus, Priority
from jobs.timing import TIMING_FIELDS


class JobFilters(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *JobStatus.choices])
    # A callable, so that a task registered after start-up is a choice too.
    type = forms.ChoiceField(
        required=False, choices=lambda: [("", "Any type"), *((name, name) for name in registry.registered())]
    )
    q = forms.CharField(
        required=False,
        max_length=36,
        label="Job id starts with",
        validators=[
            RegexValidator(r"^[0-9a-fA-F-]*$", "A job id has only the digits 0-9, the letters a-f and dashes.")
        ],
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "e.g. 3f2a"}),
    )


@dataclass
class ParamInput:
    """One input of a kind's form, described from its serializer field."""

    name: str
    id: str
    label: str
    hint: str
    type: str  # number, text, checkbox, select, or json (a textarea holding JSON)
    value: object = ""
    required: bool = False
    min: object = None
    max: object = None
    step: str | None = None
    choices: list = field(default_factory=list)
    error: str = ""


@dataclass
class KindForm:
    kind: str
    description: list[tuple[str, bool]]  # (text, is code): a kind writes `name` for code
    inputs: list[ParamInput]
    error: str = ""
    callback: ParamInput | None = None
    # When and how urgently: run at, or after a delay, and the priority (jobs.timing).
    timing: list[ParamInput] = field(default_factory=list)


# Parameters typed as JSON in a form: a list, an object or any value.
JSON_FIELDS = (serializers.ListField, serializers.DictField, serializers.JSONField)

# Every kind's form has this input beside its parameters (jobs.services.creation.create_job's callback_url).
CALLBACK_FIELD = "callback_url"


def _timing_inputs(job_kind: registry.JobKind, values, errors) -> list[ParamInput]:
    values, errors = values or {}, errors or {}
    kind = job_kind.name
    return [
        ParamInput(
            name="run_at", id=f"{kind}-run_at", label="Run at, UTC (optional)", type="datetime-local", step="1",
            hint="Leave empty to run now; a time past runs it now.",
            value=values.get("run_at", ""), error=errors.get("run_at", ""),
        ),
        ParamInput(
            name="delay", id=f"{kind}-delay", label="Or run after, seconds (optional)", type="number", hint="",
            step="any", min=0, value=values.get("delay", ""), error=errors.get("delay", ""),
        ),
        ParamInput(
            name="priority", id=f"{kind}-priority", label="Priority", type="select",
            hint="Workers take high first, then default, then low.",
            choices=list(Priority.choices), value=values.get("priority", job_kind.priority),
            error=errors.get("priority", ""),
        ),
    ]  # fmt: skip


def timing_from(data) -> dict:
    """`run_at`, `delay` and `priority` from a submitted start form, as jobs.timing reads
    them. The page shows times in UTC: a time typed without an offset is read as UTC."""
    timing = {name: data[name].strip() for name in TIMING_FIELDS if data.get(name, "").strip()}
    run_at = timing.get("run_at", "")
    if run_at and "T" in run_at and not run_at.endswith("Z") and "+" not in run_at[10:] and "-" not in run_at[10:]:
        timing["run_at"] = f"{run_at}+00:00"
    return timing


def _callback_input(kind: str, value: str = "", error: str = "") -> ParamInput:
    # Safe HTML (the template escapes every other hint): a link to the page that makes the secret.
    hint = format_html(
        "When the job ends, Bespin POSTs it here, signed with your callback secret "
        '(create one on the <a href="{}">API access</a> page).',
        reverse("api-access"),
    )
    return ParamInput(
        name=CALLBACK_FIELD, id=f"{kind}-{CALLBACK_FIELD}", label="Callback URL (optional)", type="url", hint=hint,
        value=value, error=error,
    )  # fmt: skip


def _param_input(kind: str, name: str, serializer_field: serializers.Field) -> ParamInput:
    param = ParamInput(
        name=name,
        id=f"{kind}-{name}",
        label=serializer_field.label or name,
        hint=serializer_field.help_text or "",
        type="text",
        required=serializer_field.required,
        value="" if serializer_field.default is empty else serializer_field.default,
    )
    if isinstance(serializer_field, JSON_FIELDS):
        param.type = "json"
        if param.value != "":
            param.value = json.dumps(param.value)
        example = {serializers.ListField: '["a", "b"]', serializers.DictField: '{"key": 1}'}
        shape = next((text for kind, text in example.items() if isinstance(serializer_field, kind)), "any JSON value")
        param.hint = "; ".join(part for part in [param.hint, f"JSON, such as {shape}"] if part)
    elif isinstance(serializer_field, serializers.BooleanField):
        param.type = "checkbox"
    elif isinstance(serializer_field, serializers.ChoiceField):
        param.type = "select"
        param.choices = list(serializer_field.choices.items())
    elif isinstance(serializer_field, serializers.IntegerField | serializers.FloatField | serializers.DecimalField):
        param.type = "number"
        param.step = "1" if isinstance(serializer_field, serializers.IntegerField) else "any"
        param.min = serializer_field.min_value
        param.max = serializer_field.max_value
        bounds = [
            f"at least {param.min}" if param.min is not None else "",
            f"at most {param.max:,}" if param.max else "",
        ]
        param.hint = "; ".join(part for part in [param.hint, " and ".join(b for b in bounds if b)] if part)
    return param


def kind_form(job_kind: registry.JobKind, *, values=None, errors=None, error: str = "") -> KindForm:
    """The form that starts a job of `job_kind`, one input per field of its serializer, so
    that a new kind gets its form without a template change."""
    inputs = []
    for name, serializer_field in job_kind.params_serializer().fields.items():
        if serializer_field.read_only:
            continue
        param = _param_input(job_kind.name, name, serializer_field)
        if values is not None:
            param.value = (name in values) if param.type == "checkbox" else values.get(name, "")
        param.error = (errors or {}).get(name, "")
        inputs.append(param)
    callback = _callback_input(
        job_kind.name, (values or {}).get(CALLBACK_FIELD, ""), (errors or {}).get(CALLBACK_FIELD, "")
    )
    return KindForm(
        kind=job_kind.name, description=job_kind.description_parts, inputs=inputs, error=error, callback=callback,
        timing=_timing_inputs(job_kind, values, errors),
    )  # fmt: skip


def params_from(job_kind: registry.JobKind, data) -> dict:
    """The kind's parameters from a submitted form: a blank input is left out, so the
    serializer applies its default or says the field is required."""
    params = {}
    for name, serializer_field in job_kind.params_serializer().fields.items():
        if isinstance(serializer_field, serializers.BooleanField):
            params[name] = name in data
        elif isinstance(serializer_field, JSON_FIELDS) and data.get(name, "").strip():
            try:
                params[name] = jsonbody.loads(data[name])
            except jsonbody.TooDeep as error:
                raise serializers.ValidationError({"params": {name: [str(error)]}}) from None
            except ValueError:
                raise serializers.ValidationError({"params": {name: ["not valid JSON"]}}) from None
        elif data.get(name, "").strip():
            params[name] = data[name].strip()
    return params


def split_errors(error: serializers.ValidationError) -> tuple[dict[str, str], str]:
    """Per-field messages and the rest, from create_job's `{"params": {…}}`, `{"type": […]}`,
    `{"callback_url": […]}` (kept under CALLBACK_FIELD) or `{"run_at": […]}` and the like."""
    fields: dict[str, list[str]] = {}
    general: list[str] = []
    for path, message in flat_messages(error.detail):
        if len(path) >= 2 and path[0] == "params" and path[1] != "non_field_errors":
            fields.setdefault(path[1], []).append(message)
        elif path and path[0] in (CALLBACK_FIELD, *TIMING_FIELDS):
            fields.setdefault(path[0], []).append(message)
        else:
            general.append(message)
    return {name: " ".join(messages) for name, messages in fields.items()}, " ".join(general)
