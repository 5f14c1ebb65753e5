"""The job page shows the callback, its deliveries and attempts to the owner and staff, and
a failed callback can be sent again from there."""

import html
import re

import pytest
from django.urls import reverse

from callbacks import deliveries, sender
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


def _box(client, job) -> str:
    """The callbacks box of the job's page, as text with its tags' attributes."""
    page = client.get(reverse("job-detail", args=[job.id])).content.decode()
    return html.unescape(re.search(r'<div data-region="callbacks">.*?</section>', page, re.S).group(0))


def _text(markup: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", markup).split())


def _heading(box: str) -> str:
    (heading,) = re.findall(r"<h3>(.*?)</h3>", box, re.S)
    return _text(heading)


def test_a_callback_not_sent_yet_is_waiting_with_its_next_attempt(client, signer):
    owner, _ = signer
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner,
                              callback_url="https://hooks.example.com/bespin")  # fmt: skip
    end_job(job)
    client.force_login(owner)
    box = _box(client, job)
    assert _heading(box) == "Callback of job attempt 1, which completed: Waiting to be sent"
    due = delivery_of(job).next_attempt_at
    assert f"0 attempts made · next attempt at {due:%Y-%m-%d %H:%M:%S} (UTC)" in _text(box)
    assert 'data-callback-check="' in box  # the page looks again when it is due


def test_a_callback_being_sent_is_shown_in_flight_without_a_next_attempt(client, signer):
    owner, _ = signer
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner,
                              callback_url="https://hooks.example.com/bespin")  # fmt: skip
    end_job(job, "failed")
    assert len(deliveries.claim_due(limit=1)) == 1  # a sender holds it: its claim's end is no attempt
    client.force_login(owner)
    box = _box(client, job)
    assert _heading(box) == "Callback of job attempt 1, which failed: Being sent"
    assert "next attempt" not in box and "data-callback-check" in box


def test_a_delivered_callback_says_when_and_shows_no_next_attempt(client, api, signer, receiver):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=hooks.url())
    end_job(job, "cancelled")
    sender.deliver_due()
    delivery = delivery_of(job)
    assert delivery.state == DeliveryState.DELIVERED
    client.force_login(owner)
    box = _box(client, job)
    assert _heading(box) == "Callback of job attempt 1, which was cancelled: Delivered"
    assert f"1 attempt made · delivered at {delivery.finished_at:%Y-%m-%d %H:%M:%S} (UTC)" in _text(box)
    assert "next attempt" not in box and "data-callback-check" not in box
    api.force_authenticate(owner)
    (shown,) = api.get(f"/api/jobs/{job.id}/callbacks").json()["deliveries"]
    assert (shown["state"], shown["next_attempt_at"]) == ("delivered", None)


def test_a_failed_callback_says_when_it_gave_up_and_shows_no_next_attempt(client, api, owner, failed_callback):
    job, _ = failed_callback
    client.force_login(owner)
    box = _box(client, job)
    assert _heading(box) == "Callback of job attempt 1, which completed: Failed"
    assert f"1 attempt made · gave up at {delivery_of(job).finished_at:%Y-%m-%d %H:%M:%S} (UTC)" in _text(box)
    assert "next attempt" not in box and "data-callback-check" not in box
    api.force_authenticate(owner)
    assert api.get(f"/api/jobs/{job.id}/callbacks").json()["deliveries"][0]["next_attempt_at"] is None


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
