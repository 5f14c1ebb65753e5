"""The job page shows the callback, its deliveries and attempts to the owner and staff, and
a failed callback can be sent again from there."""

import pytest
from django.urls import reverse

from callbacks import sender
from callbacks.models import DeliveryState
from callbacks.tests.conftest import delivery_of, end_job
from jobs.services import creation

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_callback(signer, receiver, settings):
    settings.CALLBACK_BACKOFF = ()  # one attempt, then failed
    owner, secret = signer
    hooks = receiver("--fail-first", "1", "--body", "<script>alert(1)</script>", secrets=[secret])
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=hooks.url())
    end_job(job)
    sender.deliver_due()
    assert delivery_of(job).state == DeliveryState.FAILED
    return job, hooks


def test_the_owner_sees_the_callback_its_attempts_and_a_send_again_button(client, owner, failed_callback):
    job, hooks = failed_callback
    client.force_login(owner)
    page = client.get(reverse("job-detail", args=[job.id])).content.decode()
    assert job.callback_url.replace("&", "&amp;") in page
    assert delivery_of(job).webhook_id in page
    assert "answered 500" in page and "Failed" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert reverse("callback-resend", args=[job.id, delivery_of(job).id]) in page


def test_send_again_delivers_it_with_the_same_webhook_id(client, owner, failed_callback):
    job, hooks = failed_callback
    client.force_login(owner)
    delivery = delivery_of(job)
    response = client.post(reverse("callback-resend", args=[job.id, delivery.id]))
    assert response.status_code == 302
    assert delivery_of(job).state == DeliveryState.PENDING
    sender.deliver_due()
    delivery = delivery_of(job)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 2)
    first, second = hooks.requests()
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == delivery.webhook_id
    page = client.get(reverse("job-detail", args=[job.id])).content.decode()
    assert "Send again" not in page


def test_a_delivered_callback_cannot_be_sent_again(client, owner, failed_callback):
    job, _ = failed_callback
    client.force_login(owner)
    url = reverse("callback-resend", args=[job.id, delivery_of(job).id])
    client.post(url)
    sender.deliver_due()
    response = client.post(url, follow=True)
    assert "Nothing sent: this callback is delivered" in response.content.decode()


def test_other_users_see_neither_the_callbacks_nor_the_button_and_cannot_resend(client, stranger, failed_callback):
    job, _ = failed_callback
    client.force_login(stranger)
    page = client.get(reverse("job-detail", args=[job.id])).content.decode()
    assert "Callbacks" not in page and "answered 500" not in page
    response = client.post(reverse("callback-resend", args=[job.id, delivery_of(job).id]))
    assert response.status_code == 403
    assert delivery_of(job).state == DeliveryState.FAILED


def test_staff_may_send_it_again(client, staff, failed_callback):
    job, _ = failed_callback
    client.force_login(staff)
    assert client.post(reverse("callback-resend", args=[job.id, delivery_of(job).id])).status_code == 302
    assert delivery_of(job).state == DeliveryState.PENDING
