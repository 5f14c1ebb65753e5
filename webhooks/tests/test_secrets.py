"""Secrets: rotation, retirement, the environment, encryption at rest, never shown or logged."""

import logging
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from bespin.lib import crypto
from webhooks import sources
from webhooks.models import WebhookSecret
from webhooks.tests.signing import bespin_headers, body_of

pytestmark = pytest.mark.django_db


def _post(deliver, secret, source="acme", n=0):
    body = body_of({"event": "e", "n": n})
    return deliver(source, body, bespin_headers(secret, body))


def test_every_active_secret_verifies_during_a_rotation(make_source, deliver):
    make_source("acme", secrets=["old-secret", "new-secret"])
    assert _post(deliver, "old-secret", n=1).status_code == 201
    assert _post(deliver, "new-secret", n=2).status_code == 201
    assert _post(deliver, "other-secret", n=3).status_code == 401


def test_retired_secret_stops_verifying_and_the_new_one_goes_on(make_source, deliver):
    source = make_source("acme", secrets=["old-secret", "new-secret"])
    sources.retire_secret(secret=source.secrets.get(fingerprint=crypto.fingerprint("old-secret")))
    assert _post(deliver, "old-secret").status_code == 401
    assert _post(deliver, "new-secret").status_code == 201


def test_secret_retired_with_a_grace_period_verifies_until_then(make_source, deliver):
    source = make_source("acme", secrets=["old-secret"])
    sources.retire_secret(secret=source.secrets.get(), after=timedelta(hours=24))
    assert _post(deliver, "old-secret").status_code == 201


def test_expired_secret_does_not_verify(make_source, deliver):
    source = make_source("acme", secrets=[])
    sources.add_secret(source=source, secret="short-lived", expires_at=timezone.now() - timedelta(seconds=1))
    response = _post(deliver, "short-lived")
    assert response.status_code == 401
    assert "no active secret" in response.json()["error"]


@override_settings(WEBHOOK_SECRETS={"billing": ["env-one", "env-two"]})
def test_environment_defines_a_source_with_space_separated_secrets(deliver):
    assert _post(deliver, "env-one", source="billing", n=1).status_code == 201
    assert _post(deliver, "env-two", source="billing", n=2).status_code == 201
    assert _post(deliver, "env-three", source="billing", n=3).status_code == 401


@override_settings(WEBHOOK_SECRETS={"acme": ["from-env"]})
def test_environment_secrets_add_to_a_database_source(make_source, deliver):
    make_source("acme", secrets=["from-db"])
    assert _post(deliver, "from-env", n=1).status_code == 201
    assert _post(deliver, "from-db", n=2).status_code == 201


@override_settings(WEBHOOK_SECRETS={"empty": []})
def test_source_with_an_empty_secret_verifies_nothing(deliver):
    from webhooks.tests.signing import hex_hmac

    body = body_of({"event": "e"})
    # The HMAC of an empty key is a well-known value: it must not be accepted.
    response = deliver("empty", body, {"X-Webhook-Signature": hex_hmac(b"", body)})
    assert response.status_code == 401
    assert "no active secret" in response.json()["error"]


@pytest.mark.parametrize("secret", ["", "   "])
def test_empty_secret_is_refused_when_added(make_source, secret):
    with pytest.raises(ValidationError):
        make_source("acme", secrets=[secret])


def test_secret_is_stored_encrypted_and_decrypts_with_the_key(make_source):
    make_source("acme", secrets=["plain-text-secret"])
    stored = WebhookSecret.objects.get()
    assert "plain-text-secret" not in stored.ciphertext
    assert crypto.decrypt(stored.ciphertext) == "plain-text-secret"


def test_secret_encrypted_under_another_secret_key_does_not_decrypt(make_source):
    make_source("acme", secrets=["plain-text-secret"])
    stored = WebhookSecret.objects.get()
    with override_settings(SECRET_KEY="a-different-key"):
        assert crypto.decrypt(stored.ciphertext) is None
    with override_settings(SECRET_KEY="a-different-key", SECRET_KEY_FALLBACKS=["also-not-the-key"]):
        assert crypto.decrypt(stored.ciphertext) is None


def test_secret_still_decrypts_after_secret_key_rotation_with_a_fallback(make_source, settings):
    make_source("acme", secrets=["plain-text-secret"])
    stored = WebhookSecret.objects.get()
    old_key = settings.SECRET_KEY
    with override_settings(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=[old_key]):
        assert crypto.decrypt(stored.ciphertext) == "plain-text-secret"


def test_secrets_never_appear_in_logs(make_source, deliver, caplog):
    caplog.set_level(logging.DEBUG)
    make_source("acme", secrets=["log-me-not-secret"])
    _post(deliver, "log-me-not-secret", n=1)
    _post(deliver, "wrong-secret", n=2)
    assert caplog.records, "ingestion logs its outcomes"
    assert "log-me-not-secret" not in caplog.text
    assert "wrong-secret" not in caplog.text
