"""A trigger of a task that is gone (its app left BESPIN_APPS) is turned off with the reason
shown; the deliveries that match it are stored, and no ERROR is logged for each."""

import logging

import pytest
from django.urls import reverse

from bespin.testing import tasks
from jobs import registry
from jobs.models import Job
from webhooks import sources
from webhooks.models import WebhookReceipt, WebhookTrigger
from webhooks.tests.signing import bespin_headers, body_of


@pytest.mark.django_db(transaction=True)
def test_a_trigger_of_a_gone_task_is_turned_off_and_its_deliveries_still_stored(
    register_task, make_source, deliver, staff_client, caplog, monkeypatch
):
    register_task(tasks.echo, "echo")
    source = make_source("shop", secrets=["shop-secret"])
    sources.set_trigger(source=source, event_pattern="order.*", job_kind="echo", params={"word": "paid"})
    monkeypatch.delitem(registry.registered(), "echo")  # its app is gone
    with caplog.at_level(logging.INFO):
        answers = [deliver("shop", body, bespin_headers("shop-secret", body)) for body in (
            body_of({"event": "order.paid", "n": 1}), body_of({"event": "order.paid", "n": 2}),
        )]  # fmt: skip
    assert [(answer.status_code, answer.json()["job_id"]) for answer in answers] == [(201, None), (201, None)]
    assert WebhookReceipt.objects.count() == 2 and not Job.objects.exists()
    trigger = WebhookTrigger.objects.get()
    assert not trigger.enabled and "unknown job type 'echo'" in trigger.disabled_reason
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    page = staff_client.get(reverse("webhook-sources")).content.decode()
    assert "data-disabled-trigger" in page and "unknown job type" in page
