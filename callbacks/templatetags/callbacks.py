"""`{% job_callbacks job %}`: the callbacks box of the dashboard's job page."""

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django import template
from django.urls import reverse
from django.utils import timezone

from callbacks import selectors
from callbacks.models import CallbackDelivery, DeliveryState
from jobs.models import JobStatus

register = template.Library()

RESENDABLE = (DeliveryState.FAILED, DeliveryState.GONE)

# How the job's attempt ended, after "which": the heading is about the callback, whose own
# state follows, so that "completed" never reads as the callback's.
_ENDED = {JobStatus.COMPLETED: "completed", JobStatus.FAILED: "failed", JobStatus.CANCELLED: "was cancelled"}


@dataclass(frozen=True)
class ShownDelivery:
    delivery: CallbackDelivery
    heading: str
    state: str  # waiting, sending, retrying, delivered, failed or gone: the CSS class
    label: str
    resendable: bool
    when_label: str = ""  # what `when` is the time of
    when: datetime | None = None
    # While it is unsettled, when the page should look again (static/jobs/detail.js).
    check_at: datetime | None = None


def _shown(delivery: CallbackDelivery, now: datetime) -> ShownDelivery:
    ended = _ENDED.get(delivery.job_status, f"ended {delivery.job_status}")
    shown = partial(
        ShownDelivery, delivery, f"Callback of job attempt {delivery.job_attempt}, which {ended}:",
        resendable=delivery.state in RESENDABLE,
    )  # fmt: skip
    if delivery.state == DeliveryState.PENDING:
        if delivery.claim is not None and delivery.next_attempt_at > now:
            # Claimed by a sender: next_attempt_at is the end of its claim, not a next attempt.
            return shown("sending", "Being sent", check_at=now)
        due = {"when_label": "next attempt at", "when": delivery.next_attempt_at, "check_at": delivery.next_attempt_at}
        if delivery.attempts:
            return shown("retrying", "To be sent again", **due)
        return shown("waiting", "Waiting to be sent", **due)
    # Settled: no next attempt, only when it ended.
    ended_at = {"when": delivery.finished_at}
    if delivery.state == DeliveryState.DELIVERED:
        return shown("delivered", "Delivered", when_label="delivered at", **ended_at)
    if delivery.state == DeliveryState.GONE:
        return shown("gone", "Stopped: the receiver answered 410 Gone", when_label="stopped at", **ended_at)
    return shown("failed", "Failed", when_label="gave up at", **ended_at)


@register.inclusion_tag("callbacks/_job_callbacks.html", takes_context=True)
def job_callbacks(context, job):
    """The job's callbacks, shown only to its owner and staff: the attempts hold what the
    owner's receiver answered."""
    shown = {"job": job, "csrf_token": context.get("csrf_token"), "show_callbacks": False}
    if not selectors.may_see_callbacks(context["request"].user, job):
        return shown
    deliveries = selectors.deliveries_of(job)
    now = timezone.now()
    return shown | {
        "show_callbacks": bool(job.callback_url or deliveries),
        "deliveries": [_shown(delivery, now) for delivery in deliveries],
        "callbacks_api_url": reverse("api-job-callbacks", args=[job.id]),
    }
