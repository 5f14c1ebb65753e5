"""The dashboard: server-rendered pages that read through selectors and write through
jobs.services.lifecycle, as the API does. Every page works as plain forms and links; with JavaScript on,
static/jobs/*.js keep them live over the job streams and re-render their `data-region`
parts from these same views after a reconnect.
"""

import json
from dataclasses import dataclass
from datetime import datetime

import redis
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from rest_framework import serializers

from bespin.lib.pagination import BadCursor, NewestFirst, Page, without_cursor
from jobs import registry, selectors
from jobs.callers import caller_of
from jobs.consumers import SITE_SCOPE
from jobs.dashboard import tasks
from jobs.dashboard.charts import last_hour_charts
from jobs.dashboard.forms import CALLBACK_FIELD, JobFilters, kind_form, params_from, split_errors, timing_from
from jobs.dashboard.limits import creation_throttled
from jobs.models import CANCELLABLE_STATUSES, RETRYABLE_STATUSES, Job, JobStatus
from jobs.services import caps, creation, lifecycle

PAGE_SIZE = 25
LATEST_JOBS = 10
# The WebSocket route of jobs/routing.py, for the pages' scripts.
JOB_STREAM_PATH = "/api/ws/jobs"
# A result longer than this is cut on the page (a 100,000-word text is ~800 KB); the copy
# button and the API give the whole of it.
RESULT_PREVIEW_CHARS = 20_000


def _job_stream(user) -> str:
    """The stream of the jobs `user` lists: everyone's for staff, their own otherwise."""
    return f"{JOB_STREAM_PATH}?scope={SITE_SCOPE}" if user.is_staff else JOB_STREAM_PATH


# Overview


def _queue_facts() -> tuple[int | None, int | None, list]:
    """Queue depth, live workers and the concurrency slots in use per limited kind, or None
    (no slots) when Redis does not answer: the page still shows the jobs that PostgreSQL holds."""
    try:
        return selectors.queue_depth(), selectors.live_worker_count(), selectors.concurrency_slots()
    except redis.RedisError:
        return None, None, []


@login_required
def overview(request):
    counts = selectors.status_counts(request.user)
    jobs_url = reverse("job-list")
    status_cards = [
        {"status": status, "label": label, "count": counts[status], "url": f"{jobs_url}?status={status}"}
        for status, label in JobStatus.choices
    ]
    throughput, failures = last_hour_charts(selectors.finished_per_minute(request.user))
    queue_depth, workers, slots = _queue_facts()
    context = {
        "status_cards": status_cards,
        "charts": [throughput, failures],
        "queue_depth": queue_depth,
        "workers": workers,
        "slots": slots,
        "jobs": selectors.jobs_visible_to(request.user)[:LATEST_JOBS],
        "stream_url": _job_stream(request.user),
        "refresh_url": request.get_full_path(),
    }
    return render(request, "jobs/overview.html", context)


# Jobs list and the forms that start jobs


def _render_job_list(request, *, error: str = "", status: int = 200):
    filters = JobFilters(request.GET)
    page = total = None
    if filters.is_valid():
        wanted = {"status": filters.cleaned_data["status"] or None, "kind": filters.cleaned_data["type"] or None}
        jobs = selectors.search_jobs(request.user, **wanted, id_prefix=filters.cleaned_data["q"])
        try:
            page = Page(request, jobs, NewestFirst, page_size=PAGE_SIZE)
        except BadCursor:
            return redirect(f"{reverse('job-list')}?{without_cursor(request)}")
        # Counted from the counts table; a search by id has no such count.
        total = None if filters.cleaned_data["q"] else selectors.count_jobs(request.user, **wanted)
    else:
        status = 400
        for name in filters.errors:
            filters.fields[name].widget.attrs["aria-describedby"] = f"{filters[name].auto_id}-error"
    context = {
        "filters": filters,
        "filtered": any(request.GET.get(name) for name in JobFilters.base_fields),
        "page": page,
        "total": total,
        # New jobs go on top: only the first page takes in a job it does not show yet.
        "first_page": page is not None and page.is_first,
        "jobs": page.items if page is not None else [],
        # The tasks this user may start, each a link to its page and its form.
        "startable": list(registry.offered(anonymous=not request.user.is_authenticated).values()),
        "start_error": error,
        "stream_url": _job_stream(request.user),
        # A failed POST to jobs/new renders this page, but only GET job-list re-renders it.
        "refresh_url": request.get_full_path() if request.method == "GET" else reverse("job-list"),
        "status_filter": filters.cleaned_data.get("status", "") if filters.is_valid() else "",
        "type_filter": filters.cleaned_data.get("type", "") if filters.is_valid() else "",
        "selectable": True,
    }
    return render(request, "jobs/list.html", context, status=status)


@login_required
def job_list(request):
    return _render_job_list(request)


@login_required
@require_POST
@creation_throttled
def start_job(request):
    name = request.POST.get("kind", "")
    job_kind = registry.offered(anonymous=not request.user.is_authenticated).get(name)
    if job_kind is None:
        return _render_job_list(request, error=f"Unknown job type {name[:64]!r}.", status=400)
    try:
        job = creation.create_job(
            kind=name, params=params_from(job_kind, request.POST), caller=caller_of(request),
            callback_url=request.POST.get(CALLBACK_FIELD, ""), timing=timing_from(request.POST),
        )  # fmt: skip
    except serializers.ValidationError as error:
        field_errors, general = split_errors(error)
        form = kind_form(job_kind, values=request.POST, errors=field_errors, error=general)
        return tasks.render_task(request, name, form=form, status=400)
    except creation.TooManyUnfinished as error:
        form = kind_form(job_kind, values=request.POST, error=f"{str(error)[0].upper()}{str(error)[1:]}.")
        return tasks.render_task(request, name, form=form, status=429)
    link = format_html('<a href="{}">{}</a>', reverse("job-detail", args=[job.id]), str(job.id)[:8])
    if job.status == JobStatus.SCHEDULED:
        done = format_html("Scheduled {} job {} for {} UTC.", job.type, link, f"{job.run_at:%Y-%m-%d %H:%M:%S}")
    else:
        done = format_html("Started {} job {}.", job.type, link)
    messages.success(request, done)
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
    if job.run_at is not None:
        waiting = job.status == JobStatus.SCHEDULED
        steps.append(
            Step(
                "Due",
                job.run_at,
                "scheduled: waiting for its time" if waiting else "",
                "current" if waiting else "done",
            )
        )
    if job.started_at:
        steps.append(Step("Started", job.started_at, f"on {job.worker_name}" if job.worker_name else "", "done"))
    elif job.status == JobStatus.PENDING:
        steps.append(Step("Started", None, "waiting in the queue", "current"))
    if job.is_final:
        duration = f"after {job.duration:.2f} s" if job.duration is not None else "before it started"
        steps.append(Step(job.get_status_display(), job.finished_at, duration, "done"))
    elif job.status == JobStatus.RUNNING:
        # No percentage here: the progress bar above moves live, a note in the timeline would not.
        steps.append(Step("Finished", None, "in progress", "current"))
    else:
        steps.append(Step("Finished", None, "", "waiting"))
    return steps


def _result_text(result) -> str:
    if result is None:
        return ""
    return result if isinstance(result, str) else json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False)


@login_required
def job_detail(request, job_id):
    # Any signed-in user may read a job by its id (the id is the capability, as in the API);
    # only its owner or staff see the buttons that change it.
    job = selectors.job_or_404(job_id)
    may_control = selectors.may_control(request.user, job)
    result = _result_text(job.result)
    context = {
        "job": job,
        "timeline": _timeline(job),
        "can_cancel": may_control and job.status in CANCELLABLE_STATUSES,
        "can_retry": may_control and job.status in RETRYABLE_STATUSES,
        # What the task raised, with its traceback: for its owner and staff only.
        "traceback": job.errors[-1] if may_control and job.errors else None,
        "task_gone": registry.get_kind(job.type) is None,
        "params": json.dumps(job.params, indent=2, sort_keys=True, ensure_ascii=False),
        "result": result[:RESULT_PREVIEW_CHARS],
        "result_cut": len(result) > RESULT_PREVIEW_CHARS,
        "result_length": len(result),
        "api_url": reverse("api-job-detail", args=[job.id]),
        "stream_url": f"{JOB_STREAM_PATH}?job_id={job.id}",
        "refresh_url": request.get_full_path(),
    }
    return render(request, "jobs/detail.html", context)


def _control(request, job_id, action, done: str, **extra):
    job = selectors.job_or_404(job_id)
    if not selectors.may_control(request.user, job):
        raise PermissionDenied("only the job's owner or staff may change it")
    try:
        action(job=job, **extra)
    except (lifecycle.JobStateConflict, caps.TooManyUnfinished) as error:
        messages.error(request, f"Nothing changed: {error}.")
    else:
        messages.success(request, done)
    return redirect("job-detail", job_id=job.id)


@login_required
@require_POST
@creation_throttled
def cancel_job(request, job_id):
    return _control(request, job_id, lifecycle.cancel_job, "Job cancelled.")


@login_required
@require_POST
@creation_throttled
def retry_job(request, job_id):
    return _control(
        request, job_id, lifecycle.retry_job, "Job queued again as a new attempt.", caller=caller_of(request)
    )
