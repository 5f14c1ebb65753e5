"""The dashboard: server-rendered pages that read through selectors and write through
services, as the API does. Every page works as plain forms and links; with JavaScript on,
static/jobs/*.js keep them live over the job streams and re-render their `data-region`
parts from these same views after a reconnect.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

import redis
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.validators import RegexValidator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from rest_framework import serializers
from rest_framework.fields import empty

from jobs import kinds, selectors, services
from jobs.consumers import SITE_SCOPE
from jobs.models import Job, JobStatus

PAGE_SIZE = 25
LATEST_JOBS = 10
# The WebSocket route of jobs/routing.py, for the pages' scripts.
JOB_STREAM_PATH = "/api/ws/jobs"
# A result longer than this is cut on the page (a 100,000-word text is ~800 KB); the copy
# button and the API give the whole of it.
RESULT_PREVIEW_CHARS = 20_000
# Upper bounds that kinds read from settings when they validate (so an operator can change
# them) rather than declaring them on the field; shown as the input's `max`.
SETTINGS_MAXIMUMS = {
    (kinds.RANDOM_TEXT, "length"): "RANDOM_TEXT_MAX_WORDS",
    (kinds.SLEEP, "seconds"): "SLEEP_MAX_SECONDS",
}
CHART_WIDTH, CHART_HEIGHT = 240, 48


def _job_stream(user) -> str:
    """The stream of the jobs `user` lists: everyone's for staff, their own otherwise."""
    return f"{JOB_STREAM_PATH}?scope={SITE_SCOPE}" if user.is_staff else JOB_STREAM_PATH


def _job_or_404(job_id) -> Job:
    job = selectors.get_job(job_id)
    if job is None:
        raise Http404("no such job")
    return job


# Overview


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str
    bars: list[Bar]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def _bars(values: list[float | None], labels: list[str], *, top: float) -> list[Bar]:
    """Bars of a sparkline, one per value, scaled so that `top` fills the chart's height; a
    value of zero gets no bar, and a small one at least a visible sliver."""
    slot = CHART_WIDTH / max(len(values), 1)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        if not value:
            continue
        height = max(2.0, CHART_HEIGHT * min(value, top) / top)
        bars.append(Bar(x=round(i * slot, 2), y=round(CHART_HEIGHT - height, 2), width=round(slot - 1, 2),
                        height=round(height, 2), label=label))  # fmt: skip
    return bars


def _charts(minutes: list[selectors.MinuteStats]) -> tuple[Chart, Chart]:
    finished = sum(m.finished for m in minutes)
    failed = sum(m.failed for m in minutes)
    peak = max((m.finished for m in minutes), default=0)
    times = [f"{m.start:%H:%M} UTC" for m in minutes]
    throughput = Chart(
        title="Jobs per minute",
        summary=f"{finished} finished in the last hour, at most {peak} in one minute",
        bars=_bars(
            [m.finished for m in minutes],
            [f"{t}: {m.finished} finished, {m.failed} failed" for t, m in zip(times, minutes, strict=True)],
            top=max(peak, 1),
        ),
    )
    rate = f"{failed / finished:.0%}" if finished else "no jobs finished"
    failures = Chart(
        title="Failure rate",
        summary=f"{rate} in the last hour ({failed} of {finished} failed)" if finished else f"{rate} in the last hour",
        bars=_bars(
            [m.failure_rate * 100 if m.failure_rate else None for m in minutes],
            [f"{t}: {m.failed} of {m.finished} failed" for t, m in zip(times, minutes, strict=True)],
            top=100,
        ),
    )
    return throughput, failures


def _queue_facts() -> tuple[int | None, int | None]:
    """Queue depth and live workers, or None each when Redis does not answer: the page still
    shows the jobs that PostgreSQL holds."""
    try:
        return selectors.queue_depth(), selectors.live_worker_count()
    except redis.RedisError:
        return None, None


@login_required
def overview(request):
    counts = selectors.status_counts(request.user)
    jobs_url = reverse("job-list")
    status_cards = [
        {"status": status, "label": label, "count": counts[status], "url": f"{jobs_url}?status={status}"}
        for status, label in JobStatus.choices
    ]
    throughput, failures = _charts(selectors.finished_per_minute(request.user))
    queue_depth, workers = _queue_facts()
    context = {
        "status_cards": status_cards,
        "charts": [throughput, failures],
        "queue_depth": queue_depth,
        "workers": workers,
        "jobs": selectors.jobs_visible_to(request.user)[:LATEST_JOBS],
        "stream_url": _job_stream(request.user),
        "refresh_url": request.get_full_path(),
    }
    return render(request, "jobs/overview.html", context)


# Jobs list and the forms that start jobs


class JobFilters(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *JobStatus.choices])
    # A callable, so that a kind registered after start-up is a choice too.
    type = forms.ChoiceField(required=False, choices=lambda: [("", "Any type"), *((n, n) for n in kinds.KINDS)])
    q = forms.CharField(
        required=False,
        max_length=36,
        label="Job id contains",
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
    type: str  # number, text, checkbox or select
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
    if isinstance(serializer_field, serializers.BooleanField):
        param.type = "checkbox"
    elif isinstance(serializer_field, serializers.ChoiceField):
        param.type = "select"
        param.choices = list(serializer_field.choices.items())
    elif isinstance(serializer_field, serializers.IntegerField | serializers.FloatField | serializers.DecimalField):
        param.type = "number"
        param.step = "1" if isinstance(serializer_field, serializers.IntegerField) else "any"
        param.min = serializer_field.min_value
        param.max = serializer_field.max_value
        if param.max is None and (kind, name) in SETTINGS_MAXIMUMS:
            param.max = getattr(settings, SETTINGS_MAXIMUMS[(kind, name)])
        bounds = [
            f"at least {param.min}" if param.min is not None else "",
            f"at most {param.max:,}" if param.max else "",
        ]
        param.hint = "; ".join(part for part in [param.hint, " and ".join(b for b in bounds if b)] if part)
    return param


def kind_form(job_kind: kinds.JobKind, *, values=None, errors=None, error: str = "") -> KindForm:
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
    parts = job_kind.description.split("`")
    description = [(text, i % 2 == 1) for i, text in enumerate(parts) if text]
    return KindForm(kind=job_kind.name, description=description, inputs=inputs, error=error)


def _params_from(job_kind: kinds.JobKind, data) -> dict:
    """The kind's parameters from a submitted form: a blank input is left out, so the
    serializer applies its default or says the field is required."""
    params = {}
    for name, serializer_field in job_kind.params_serializer().fields.items():
        if isinstance(serializer_field, serializers.BooleanField):
            params[name] = name in data
        elif data.get(name, "").strip():
            params[name] = data[name].strip()
    return params


def _messages(detail) -> str:
    if isinstance(detail, dict):
        return " ".join(_messages(value) for value in detail.values())
    if isinstance(detail, list):
        return " ".join(_messages(value) for value in detail)
    return str(detail)


def _split_errors(error: serializers.ValidationError) -> tuple[dict[str, str], str]:
    """Per-field messages and the rest, from create_job's `{"params": {…}}` or `{"type": […]}`."""
    detail = error.detail if isinstance(error.detail, dict) else {"type": error.detail}
    params = detail.get("params", {})
    if not isinstance(params, dict):
        return {}, _messages(params)
    general = [_messages(params.get("non_field_errors", [])), _messages(detail.get("type", []))]
    fields = {name: _messages(msgs) for name, msgs in params.items() if name != "non_field_errors"}
    return fields, " ".join(m for m in general if m)


def _render_job_list(request, *, failed_form: KindForm | None = None, error: str = "", status: int = 200):
    filters = JobFilters(request.GET)
    page = None
    if filters.is_valid():
        jobs = selectors.search_jobs(
            request.user,
            status=filters.cleaned_data["status"] or None,
            kind=filters.cleaned_data["type"] or None,
            id_contains=filters.cleaned_data["q"].lower(),
        )
        page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    else:
        status = 400
        for name in filters.errors:
            filters.fields[name].widget.attrs["aria-describedby"] = f"{filters[name].auto_id}-error"
    kind_forms = [
        failed_form if failed_form and failed_form.kind == name else kind_form(job_kind)
        for name, job_kind in kinds.KINDS.items()
    ]
    context = {
        "filters": filters,
        "filtered": any(request.GET.get(name) for name in JobFilters.base_fields),
        "page": page,
        # New jobs go on top: only the first page takes in a job it does not show yet.
        "first_page": page is not None and page.number == 1,
        "jobs": page.object_list if page is not None else [],
        "kind_forms": kind_forms,
        "start_error": error,
        "stream_url": _job_stream(request.user),
        # A failed POST to jobs/new renders this page, but only GET job-list re-renders it.
        "refresh_url": request.get_full_path() if request.method == "GET" else reverse("job-list"),
        "status_filter": filters.cleaned_data.get("status", "") if filters.is_valid() else "",
    }
    return render(request, "jobs/list.html", context, status=status)


@login_required
def job_list(request):
    return _render_job_list(request)


@login_required
@require_POST
def start_job(request):
    name = request.POST.get("kind", "")
    job_kind = kinds.get_kind(name)
    if job_kind is None:
        return _render_job_list(request, error=f"Unknown job type {name[:64]!r}.", status=400)
    try:
        job = services.create_job(kind=name, params=_params_from(job_kind, request.POST), owner=request.user)
    except serializers.ValidationError as error:
        field_errors, general = _split_errors(error)
        form = kind_form(job_kind, values=request.POST, errors=field_errors, error=general)
        return _render_job_list(request, failed_form=form, status=400)
    messages.success(
        request,
        format_html(
            'Started {} job <a href="{}">{}</a>.', job.type, reverse("job-detail", args=[job.id]), str(job.id)[:8]
        ),
    )
    return redirect("job-list")


# One job


@dataclass(frozen=True)
class Step:
    label: str
    at: datetime | None
    note: str
    state: str  # done, current or waiting


def _timeline(job: Job) -> list[Step]:
    steps = [Step("Created", job.created_at, f"attempt {job.attempt}" if job.attempt > 1 else "", "done")]
    if job.started_at:
        steps.append(Step("Started", job.started_at, f"on {job.worker_name}" if job.worker_name else "", "done"))
    elif job.status == JobStatus.PENDING:
        steps.append(Step("Started", None, "waiting in the queue", "current"))
    if job.is_final:
        duration = f"after {job.duration:.2f} s" if job.duration is not None else "before it started"
        steps.append(Step(job.get_status_display(), job.finished_at, duration, "done"))
    else:
        note = f"{job.progress}% done" if job.status == JobStatus.RUNNING else ""
        steps.append(Step("Finished", None, note, "current" if job.status == JobStatus.RUNNING else "waiting"))
    return steps


def _result_text(result) -> str:
    if result is None:
        return ""
    return result if isinstance(result, str) else json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False)


@login_required
def job_detail(request, job_id):
    # Any signed-in user may read a job by its id (the id is the capability, as in the API);
    # only its owner or staff see the buttons that change it.
    job = _job_or_404(job_id)
    may_control = selectors.may_control(request.user, job)
    result = _result_text(job.result)
    context = {
        "job": job,
        "timeline": _timeline(job),
        "can_cancel": may_control and job.status in (JobStatus.PENDING, JobStatus.RUNNING),
        "can_retry": may_control and job.status in (JobStatus.FAILED, JobStatus.CANCELLED),
        "params": json.dumps(job.params, indent=2, sort_keys=True, ensure_ascii=False),
        "result": result[:RESULT_PREVIEW_CHARS],
        "result_cut": len(result) > RESULT_PREVIEW_CHARS,
        "result_length": len(result),
        "api_url": reverse("api-job-detail", args=[job.id]),
        "stream_url": f"{JOB_STREAM_PATH}?job_id={job.id}",
        "refresh_url": request.get_full_path(),
    }
    return render(request, "jobs/detail.html", context)


def _control(request, job_id, action, done: str):
    job = _job_or_404(job_id)
    if not selectors.may_control(request.user, job):
        raise PermissionDenied("only the job's owner or staff may change it")
    try:
        action(job=job)
    except services.JobStateConflict as error:
        messages.error(request, f"Nothing changed: {error}.")
    else:
        messages.success(request, done)
    return redirect("job-detail", job_id=job.id)


@login_required
@require_POST
def cancel_job(request, job_id):
    return _control(request, job_id, services.cancel_job, "Job cancelled.")


@login_required
@require_POST
def retry_job(request, job_id):
    return _control(request, job_id, services.retry_job, "Job queued again as a new attempt.")
