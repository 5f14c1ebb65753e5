"""The "Send again" button of the callbacks box on the dashboard's job page (the box itself is
callbacks.templatetags.callbacks), and the callback secret's section of the API access page
(accounts.extensions; registered by callbacks.apps)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.extensions import AccessSection, Change
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


def _secret_state(request) -> dict:
    secret = selectors.secret_of(request.user)
    still_signs = secret is not None and secret.previous_until and secret.previous_until > timezone.now()
    return {
        "secret": secret,
        "previous_until": secret.previous_until if still_signs else None,
        "overlap_hours": int(services.SECRET_OVERLAP.total_seconds() // 3600),
        "api_path": reverse("api-callback-secret"),
    }


def _rotate_secret(request) -> Change:
    # The first secret or a new one, as POST /api/me/callback-secret makes them.
    rotated = services.rotate_callback_secret(user=request.user)
    if rotated.replaced:
        message = (
            f"Callback secret rotated: the previous one signs too until {rotated.previous_until:%Y-%m-%d %H:%M} UTC."
        )
    else:
        message = "Callback secret created."
    return Change(message, shown={"secret": rotated.secret, "previous_until": rotated.previous_until})


SECRET_SECTION = AccessSection(
    name="callback-secret",
    template="callbacks/_access_secret.html",
    state=_secret_state,
    actions={"rotate": _rotate_secret},
)
