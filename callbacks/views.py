"""The "Send again" button of the callbacks box on the dashboard's job page (the box itself is
callbacks.templatetags.callbacks)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from callbacks import selectors, services
from jobs import selectors as job_selectors


@login_required
@require_POST
def resend_callback(request, job_id, delivery_id):
    job = job_selectors.job_or_404(job_id)
    if not selectors.may_see_callbacks(request.user, job):
        raise PermissionDenied("only the job's owner or staff may send its callback again")
    delivery = selectors.delivery_of(job, delivery_id)
    if delivery is None:
        raise Http404("no such callback of this job")
    try:
        services.resend_delivery(delivery=delivery)
    except services.NotResendable as error:
        messages.error(request, f"Nothing sent: {error}.")
    else:
        messages.success(request, "Callback queued to be sent again.")
    return redirect("job-detail", job_id=job.id)
