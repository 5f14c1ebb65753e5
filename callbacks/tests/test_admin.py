"""The admin shows deliveries with their attempts, and who has a secret, never the secret."""

import pytest

from callbacks import sender
from callbacks.models import CallbackDelivery
from callbacks.tests.conftest import end_job
from jobs.services import creation

pytestmark = pytest.mark.django_db


def test_a_delivery_and_its_attempts_are_shown_read_only(admin_client, signer, receiver):
    owner, secret = signer
    hooks = receiver(secrets=[secret])
    job = creation.create_job(kind="random_text", params={}, owner=owner, callback_url=hooks.url())
    end_job(job)
    sender.deliver_due()
    delivery = CallbackDelivery.objects.get(job=job)
    listing = admin_client.get("/admin/callbacks/callbackdelivery/").content.decode()
    assert delivery.webhook_id in listing
    page = admin_client.get(f"/admin/callbacks/callbackdelivery/{delivery.id}/change/")
    assert page.status_code == 200
    assert "204" in page.content.decode() and 'name="_save"' not in page.content.decode()


def test_the_secret_is_never_shown(admin_client, signer):
    owner, secret = signer
    listing = admin_client.get("/admin/callbacks/callbacksecret/")
    page = admin_client.get(f"/admin/callbacks/callbacksecret/{owner.callback_secret.pk}/change/")
    assert listing.status_code == page.status_code == 200
    for content in (listing.content.decode(), page.content.decode()):
        assert secret not in content and owner.callback_secret.ciphertext not in content
