"""The dashboard's Tasks: every task the apps Bespin loads declare, with the last hour's
figures (from per-minute histograms that stay small whatever the jobs table holds), and a
page for each with its start form and its latest jobs."""

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from jobs import registry, selectors
from jobs.dashboard.forms import KindForm, kind_form

LATEST_JOBS = 10


@dataclass(frozen=True)
class TaskRow:
    kind: registry.JobKind
    figures: selectors.TaskFigures
    offered: str  # to whom the API and the dashboard offer it


def _offered(kind: registry.JobKind) -> str:
    if kind.anonymous:
        return "everyone"
    return "signed-in users" if kind.exposed else "code only"


def _rows() -> list[TaskRow]:
    figures = selectors.task_figures()
    return [
        TaskRow(kind, figures.get(name, selectors.TaskFigures()), _offered(kind))
        for name, kind in sorted(registry.registered().items())
    ]


@login_required
def task_list(request):
    return render(request, "jobs/tasks.html", {"rows": _rows()})


def render_task(request, name: str, *, form: KindForm | None = None, status: int = 200):
    """A task's page; `form` a start form that came back with errors."""
    kind = registry.registered().get(name)
    if kind is None:
        raise Http404(f"no task named {name[:200]!r} is loaded")
    may_start = name in registry.offered(anonymous=not request.user.is_authenticated)
    context = {
        "row": TaskRow(kind, selectors.task_figures().get(name, selectors.TaskFigures()), _offered(kind)),
        "form": form or (kind_form(kind) if may_start else None),
        "jobs": list(selectors.search_jobs(request.user, kind=name)[:LATEST_JOBS]),
        "jobs_url": f"{reverse('job-list')}?type={name}",
    }
    return render(request, "jobs/task.html", context, status=status)


@login_required
def task_detail(request, name: str):
    return render_task(request, name)
