"""The jobs list's bulk actions: cancel the selected jobs, retry every failed job (of the
type the list is filtered by). Each asks for a confirmation first, on a page of its own:
plain forms, no JavaScript needed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from bespin.lib.ids import parse_uuid
from jobs import registry, selectors
from jobs.callers import caller_of
from jobs.dashboard.limits import creation_throttled
from jobs.models import JobStatus
from jobs.services import bulk, caps

CANCEL_SELECTED = "cancel"
RETRY_FAILED = "retry-failed"


def _back(request) -> str:
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return reverse("job-list")


@login_required
@require_POST
@creation_throttled
def bulk_action(request):
    action = request.POST.get("action", "")
    if action == CANCEL_SELECTED:
        ids = sorted({parsed for raw in request.POST.getlist("ids") if (parsed := parse_uuid(raw)) is not None})
        if not ids:
            messages.error(request, "Nothing changed: select the jobs to cancel first.")
            return redirect(_back(request))
        if len(ids) > bulk.MAX_IDS:
            messages.error(request, f"Nothing changed: at most {bulk.MAX_IDS:,} jobs at once.")
            return redirect(_back(request))
        question = f"Cancel the {len(ids)} selected job{'s' if len(ids) != 1 else ''}?"
        note = "Scheduled, pending and running jobs are cancelled; finished ones are left as they are."
        answer = "Yes, cancel it" if len(ids) == 1 else "Yes, cancel them"
        kind = ""
    elif action == RETRY_FAILED:
        ids = []
        kind = request.POST.get("type", "") if request.POST.get("type", "") in registry.registered() else ""
        count = selectors.count_jobs(request.user, status=JobStatus.FAILED, kind=kind or None)
        question = f"Retry all {count:,} failed {kind + ' ' if kind else ''}job{'s' if count != 1 else ''}?"
        note = f"Each runs again as a new attempt; at most {bulk.MAX_JOBS:,} at once, oldest first."
        answer = "Yes, retry it" if count == 1 else "Yes, retry them"
    else:
        messages.error(request, "Nothing changed: unknown action.")
        return redirect(_back(request))
    if request.POST.get("confirmed") != "1":
        context = {"action": action, "ids": ids, "kind": kind, "question": question, "note": note,
                   "answer": answer, "back": _back(request)}  # fmt: skip
        return render(request, "jobs/bulk_confirm.html", context)
    if action == CANCEL_SELECTED:
        result = bulk.cancel_jobs(jobs=selectors.jobs_visible_to(request.user), ids=ids)
        done = f"Cancelled {result.changed} job{'s' if result.changed != 1 else ''}"
    else:
        failed = selectors.jobs_visible_to(request.user, status=JobStatus.FAILED, kind=kind or None)
        try:
            result = bulk.retry_jobs(jobs=failed, caller=caller_of(request))
        except caps.TooManyUnfinished as error:
            messages.error(request, f"Nothing changed: {error}.")
            return redirect(_back(request))
        done = f"Queued {result.changed} failed job{'s' if result.changed != 1 else ''} again"
    skipped = f"; {result.skipped} skipped (finished, changed meanwhile or not yours)" if result.skipped else ""
    messages.success(request, f"{done}{skipped}.")
    return redirect(_back(request))
