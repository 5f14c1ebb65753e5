"""Server-rendered pages. They read through selectors and write through services, as the API does."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework import serializers

from jobs import kinds, selectors, services

RECENT_JOBS = 20


def _field_errors(error: serializers.ValidationError) -> dict[str, str]:
    detail = error.detail.get("params", error.detail) if isinstance(error.detail, dict) else {}
    return {name: " ".join(str(m) for m in messages) for name, messages in detail.items()}


@login_required
def dashboard(request, errors=None, status=200):
    jobs = selectors.jobs_visible_to(request.user)[:RECENT_JOBS]
    context = {"jobs": jobs, "errors": errors or {}, "form_data": request.POST, "kinds": kinds.KINDS}
    return render(request, "jobs/dashboard.html", context, status=status)


@login_required
@require_POST
def start_job(request):
    params = {"length": request.POST.get("length", "")}
    try:
        job = services.create_job(kind=kinds.RANDOM_TEXT, params=params, owner=request.user)
    except serializers.ValidationError as error:
        return dashboard(request, errors=_field_errors(error), status=400)
    return redirect("job-detail", job_id=job.id)


@login_required
def job_detail(request, job_id):
    job = selectors.get_job(job_id)
    if job is None:
        raise Http404("no such job")
    return render(request, "jobs/detail.html", {"job": job})
