"""`{% job_callbacks job %}`: the callbacks box of the dashboard's job page."""

from django import template
from django.urls import reverse

from callbacks import selectors
from callbacks.models import DeliveryState

register = template.Library()

RESENDABLE = (DeliveryState.FAILED, DeliveryState.GONE)


@register.inclusion_tag("callbacks/_job_callbacks.html", takes_context=True)
def job_callbacks(context, job):
    """The job's callbacks, shown only to its owner and staff: the attempts hold what the
    owner's receiver answered."""
    shown = {"job": job, "csrf_token": context.get("csrf_token"), "show_callbacks": False}
    if not selectors.may_see_callbacks(context["request"].user, job):
        return shown
    deliveries = selectors.deliveries_of(job)
    return shown | {
        "show_callbacks": bool(job.callback_url or deliveries),
        "deliveries": [(delivery, delivery.state in RESENDABLE) for delivery in deliveries],
        "callbacks_api_url": reverse("api-job-callbacks", args=[job.id]),
    }
