"""The dashboard's schedules: the list with a form for a new one, and each schedule's page
with its next and last runs, the jobs it started, a form to change it and a delete button.
A user sees their own schedules (staff: every one); anyone else's is a 404."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework import serializers

from jobs.dashboard.limits import creation_throttled
from schedules import selectors, services
from schedules.forms import ScheduleForm

STARTED_SHOWN = 25


def _render_list(request, form: ScheduleForm, *, status: int = 200):
    context = {"schedules": list(selectors.schedules_visible_to(request.user)), "form": form}
    return render(request, "schedules/list.html", context, status=status)


@login_required
def schedule_list(request):
    return _render_list(request, ScheduleForm())


@login_required
@require_POST
@creation_throttled
def create_schedule(request):
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    try:
        schedule = services.create_schedule(owner=request.user, **form.service_fields())
    except serializers.ValidationError as error:
        form.add_service_errors(error)
        return _render_list(request, form, status=400)
    except services.TooManySchedules as error:
        form.add_error(None, f"{str(error)[0].upper()}{str(error)[1:]}.")
        return _render_list(request, form, status=409)
    messages.success(request, f"Schedule {schedule.name!r} created.")
    return redirect("schedule-detail", schedule_id=schedule.id)


def _render_detail(request, schedule, form: ScheduleForm, *, status: int = 200):
    context = {
        "schedule": schedule,
        # As the API and the form take them: JSON, not Python's repr.
        "params": json.dumps(schedule.params, sort_keys=True, ensure_ascii=False),
        "upcoming": selectors.upcoming_ticks(schedule),
        "jobs": selectors.jobs_started_by(schedule, limit=STARTED_SHOWN),
        "started_shown": STARTED_SHOWN,
        "form": form,
    }
    return render(request, "schedules/detail.html", context, status=status)


@login_required
def schedule_detail(request, schedule_id):
    schedule = selectors.schedule_for(request.user, schedule_id)
    return _render_detail(request, schedule, ScheduleForm.of(schedule))


@login_required
@require_POST
@creation_throttled
def edit_schedule(request, schedule_id):
    schedule = selectors.schedule_for(request.user, schedule_id)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, schedule, form, status=400)
    try:
        services.update_schedule(schedule=schedule, **form.service_fields())
    except serializers.ValidationError as error:
        form.add_service_errors(error)
        schedule.refresh_from_db()
        return _render_detail(request, schedule, form, status=400)
    messages.success(request, "Schedule saved.")
    return redirect("schedule-detail", schedule_id=schedule.id)


@login_required
@require_POST
def delete_schedule(request, schedule_id):
    schedule = selectors.schedule_for(request.user, schedule_id)
    services.delete_schedule(schedule=schedule)
    messages.success(request, f"Schedule {schedule.name!r} deleted; the jobs it started are kept.")
    return redirect("schedule-list")
