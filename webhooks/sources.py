"""Configuring sources, their secrets and their triggers: the admin and `manage.py
webhook_source` call these. Each change reaches this process's ingestion at once and other
servers' within WEBHOOK_CONFIG_TTL seconds.
"""

import base64
import secrets as random_secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from bespin.lib import crypto
from jobs import registry
from webhooks import config
from webhooks.models import SchemeName, WebhookSecret, WebhookSource, WebhookTrigger
from webhooks.schemes import get_scheme


def _changed() -> None:
    config.forget_source_configs()
    transaction.on_commit(config.forget_source_configs)


def _full_clean(instance, exclude=None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.message_dict) from None


@transaction.atomic
def save_source(*, source: WebhookSource) -> WebhookSource:
    """Validate and save a new or changed source (the admin's form hands one over)."""
    _full_clean(source)
    source.save()
    _changed()
    return source


def create_source(
    *,
    name: str,
    scheme: str = SchemeName.BESPIN,
    enabled: bool = True,
    tolerance_seconds: int = 300,
    rate_per_minute: int | None = None,
) -> WebhookSource:
    source = WebhookSource(
        name=name, scheme=scheme, enabled=enabled, tolerance_seconds=tolerance_seconds, rate_per_minute=rate_per_minute
    )
    return save_source(source=source)


_UNCHANGED = object()


def update_source(
    *,
    source: WebhookSource,
    scheme=_UNCHANGED,
    enabled=_UNCHANGED,
    tolerance_seconds=_UNCHANGED,
    rate_per_minute=_UNCHANGED,
) -> WebhookSource:
    """Change the given settings of a source; the others stay as they are."""
    changes = {
        "scheme": scheme,
        "enabled": enabled,
        "tolerance_seconds": tolerance_seconds,
        "rate_per_minute": rate_per_minute,
    }
    for field, value in changes.items():
        if value is not _UNCHANGED:
            setattr(source, field, value)
    return save_source(source=source)


@transaction.atomic
def delete_source(*, source: WebhookSource) -> None:
    """Delete a source with its secrets and triggers; its receipts stay."""
    source.delete()
    _changed()


def generate_secret(*, scheme: str) -> str:
    """A new random secret in the form the scheme expects (Standard Webhooks: whsec_ + base64)."""
    if scheme == SchemeName.STANDARD:
        return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()
    if scheme == SchemeName.STRIPE:
        return "whsec_" + random_secrets.token_hex(32)
    return random_secrets.token_hex(32)


@transaction.atomic
def add_secret(*, source: WebhookSource, secret: str, expires_at: datetime | None = None) -> WebhookSecret:
    """Add an active secret to a source, stored encrypted. An empty secret, or one the
    source's scheme cannot use (Standard Webhooks needs base64), is refused."""
    secret = secret.strip()
    if not secret:
        raise serializers.ValidationError({"secret": ["an empty secret never verifies"]})
    if get_scheme(source.scheme).key(secret) is None:
        raise serializers.ValidationError({"secret": [f"not a secret the {source.scheme} scheme can use"]})
    stored = WebhookSecret.objects.create(
        source=source, ciphertext=crypto.encrypt(secret), fingerprint=crypto.fingerprint(secret), expires_at=expires_at
    )
    _changed()
    return stored


def retire_secret(*, secret: WebhookSecret, after: timedelta = timedelta(0)) -> WebhookSecret:
    """Stop a secret verifying, now or after `after` (time for the sender to switch)."""
    return set_secret_expiry(secret=secret, expires_at=timezone.now() + after)


@transaction.atomic
def set_secret_expiry(*, secret: WebhookSecret, expires_at: datetime | None) -> WebhookSecret:
    """The secret verifies until `expires_at`; None: until retired."""
    secret.expires_at = expires_at
    secret.save(update_fields=["expires_at"])
    _changed()
    return secret


@transaction.atomic
def delete_secret(*, secret: WebhookSecret) -> None:
    secret.delete()
    _changed()


@transaction.atomic
def set_trigger(
    *, source: WebhookSource, event_pattern: str, job_kind: str, params: dict | None = None, enabled: bool = True
) -> WebhookTrigger:
    """Start a `job_kind` job with `params` for each verified delivery whose event matches
    `event_pattern`; the parameters are checked now with the kind's serializer."""
    event_pattern = event_pattern.strip()
    if not event_pattern:
        raise serializers.ValidationError({"event_pattern": ["an event name, or a pattern with * wildcards"]})
    kind, clean_params = registry.validate_params(kind=job_kind, params=params if params is not None else {})
    trigger, _ = WebhookTrigger.objects.update_or_create(
        source=source,
        event_pattern=event_pattern,
        defaults={"job_kind": kind.name, "params": clean_params, "enabled": enabled, "disabled_reason": ""},
    )
    _changed()
    return trigger


def disable_trigger(*, source_name: str, event_pattern: str, reason: str) -> None:
    """Turn a trigger off with the reason shown beside it (its task gone, its parameters no
    longer fitting), so that the next deliveries do not try again."""
    WebhookTrigger.objects.filter(source__name=source_name, event_pattern=event_pattern).update(
        enabled=False, disabled_reason=reason[:500]
    )
    _changed()


@transaction.atomic
def delete_trigger(*, trigger: WebhookTrigger) -> None:
    trigger.delete()
    _changed()
