"""The admin: sources with write-only secrets and triggers, read-only receipts, replay."""

import pytest

from bespin.lib import crypto
from jobs.models import Job
from webhooks import sources
from webhooks.models import WebhookReceipt, WebhookSecret, WebhookSource, WebhookTrigger

pytestmark = pytest.mark.django_db


def _source_form(**overrides) -> dict:
    data = {
        "name": "acme", "scheme": "bespin", "enabled": "on", "tolerance_seconds": "300", "rate_per_minute": "",
        "new_secret": "",
        "secrets-TOTAL_FORMS": "0", "secrets-INITIAL_FORMS": "0",
        "triggers-TOTAL_FORMS": "0", "triggers-INITIAL_FORMS": "0",
    }  # fmt: skip
    return data | overrides


def test_source_added_in_the_admin_stores_its_secret_encrypted(admin_client):
    response = admin_client.post("/admin/webhooks/webhooksource/add/", _source_form(new_secret="admin-secret"))
    assert response.status_code == 302, response.content.decode()[:2000]
    secret = WebhookSecret.objects.get(source__name="acme")
    assert crypto.decrypt(secret.ciphertext) == "admin-secret"
    page = admin_client.get(f"/admin/webhooks/webhooksource/{secret.source_id}/change/").content.decode()
    assert secret.fingerprint in page
    assert "admin-secret" not in page and secret.ciphertext not in page


def test_secret_the_scheme_cannot_use_is_refused_and_not_echoed(admin_client):
    form = _source_form(scheme="standard", new_secret="not base64 at all!")
    response = admin_client.post("/admin/webhooks/webhooksource/add/", form)
    assert response.status_code == 200
    assert "not a secret the standard scheme can use" in response.content.decode()
    assert "not base64 at all!" not in response.content.decode()
    assert not WebhookSource.objects.exists()


def test_trigger_added_in_the_admin_is_validated_and_saved(admin_client):
    form = _source_form(**{
        "triggers-TOTAL_FORMS": "1", "triggers-0-event_pattern": "order.*", "triggers-0-job_kind": "sleep",
        "triggers-0-params": '{"seconds": 2}', "triggers-0-enabled": "on",
    })  # fmt: skip
    assert admin_client.post("/admin/webhooks/webhooksource/add/", form).status_code == 302
    trigger = WebhookTrigger.objects.get()
    assert (trigger.event_pattern, trigger.job_kind, trigger.params) == ("order.*", "sleep", {"seconds": 2})


def test_trigger_with_bad_params_is_refused(admin_client):
    form = _source_form(**{
        "triggers-TOTAL_FORMS": "1", "triggers-0-event_pattern": "x", "triggers-0-job_kind": "sleep",
        "triggers-0-params": '{"seconds": -3}',
    })  # fmt: skip
    response = admin_client.post("/admin/webhooks/webhooksource/add/", form)
    assert response.status_code == 200
    assert not WebhookTrigger.objects.exists()


def test_retiring_a_secret_in_the_admin_sets_its_expiry(admin_client):
    source = sources.create_source(name="acme")
    secret = sources.add_secret(source=source, secret="to-retire")
    form = _source_form(**{
        "secrets-TOTAL_FORMS": "1", "secrets-INITIAL_FORMS": "1", "secrets-0-id": str(secret.id),
        "secrets-0-source": str(source.id),
        "secrets-0-expires_at_0": "2000-01-01", "secrets-0-expires_at_1": "00:00:00",
    })  # fmt: skip
    form.pop("name")
    response = admin_client.post(f"/admin/webhooks/webhooksource/{source.id}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    secret.refresh_from_db()
    assert not secret.is_active()


def test_receipts_are_read_only_and_searchable(admin_client, make_receipt):
    receipt = make_receipt(source="acme", event="order.paid", delivery_id="d-42", payload={"amount": 7})
    changelist = admin_client.get("/admin/webhooks/webhookreceipt/?q=d-42")
    assert changelist.status_code == 200 and str(receipt.id) in changelist.content.decode()
    by_id = admin_client.get(f"/admin/webhooks/webhookreceipt/?q={receipt.id}")
    assert str(receipt.id) in by_id.content.decode()
    assert admin_client.get("/admin/webhooks/webhookreceipt/?q=nothing-like-it").status_code == 200
    detail = admin_client.get(f"/admin/webhooks/webhookreceipt/{receipt.id}/change/")
    assert detail.status_code == 200 and "&quot;amount&quot;: 7" in detail.content.decode()
    assert admin_client.get("/admin/webhooks/webhookreceipt/add/").status_code == 403
    assert admin_client.post(
        f"/admin/webhooks/webhookreceipt/{receipt.id}/change/", {"event": "forged"}
    ).status_code == 403  # fmt: skip
    assert WebhookReceipt.objects.get().event == "order.paid"


def test_replay_action_runs_the_triggers_again(admin_client, make_receipt):
    source = sources.create_source(name="acme")
    sources.set_trigger(source=source, event_pattern="order.*", job_kind="sleep", params={"seconds": 0})
    receipt = make_receipt(source="acme", event="order.paid", delivery_id="d-1", payload={})
    response = admin_client.post(
        "/admin/webhooks/webhookreceipt/",
        {"action": "replay", "_selected_action": [str(receipt.id)]},
        follow=True,
    )
    assert "1 job(s) started" in response.content.decode()
    job = Job.objects.get()
    assert WebhookReceipt.objects.get().job == job
