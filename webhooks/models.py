import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

# A source name is the last segment of its URL and the prefix of its environment variable
# (`GITHUB_WEBHOOK_SECRET` → `github`), so it stays lowercase letters, digits, `_` and `-`.
SOURCE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class SchemeName(models.TextChoices):
    BESPIN = "bespin", "bespin: X-Webhook-Signature, hex HMAC-SHA256 of the body"
    GITHUB = "github", "github: X-Hub-Signature-256"
    STRIPE = "stripe", "stripe: Stripe-Signature t=…,v1=…"
    STANDARD = "standard", "standard: Standard Webhooks webhook-id/-timestamp/-signature"


class WebhookSource(models.Model):
    """A sender of webhooks, configured in the admin or with `manage.py webhook_source`.

    A source may also exist only in the environment (`<SOURCE>_WEBHOOK_SECRET`); a row of the
    same name adds its scheme, limits, secrets and triggers to the environment's secrets.
    """

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(SOURCE_NAME_PATTERN, "lowercase letters, digits, _ and -")],
    )
    scheme = models.CharField(max_length=16, choices=SchemeName.choices, default=SchemeName.BESPIN)
    enabled = models.BooleanField(default=True, help_text="A disabled source answers 404, as an unknown one does.")
    tolerance_seconds = models.PositiveIntegerField(
        default=300,
        help_text="How far a signed timestamp (stripe, standard) may be from the server clock; 0 turns the check off.",
    )
    rate_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Deliveries accepted per minute before 429; empty: BESPIN_WEBHOOK_RATE_PER_MINUTE; 0: no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookSecret(models.Model):
    """One signing secret of a source, encrypted with a key derived from SECRET_KEY.

    A source passes a delivery when any of its active secrets verifies it, so a secret is
    rotated by adding the new one and retiring the old one once the sender has switched.
    """

    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="secrets")
    ciphertext = models.TextField(editable=False)
    # Tells secrets apart in the admin without showing them: a keyed hash, not the secret.
    fingerprint = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Verifies until then; empty: until retired.")

    class Meta:
        ordering = ["source", "-created_at"]

    def __str__(self) -> str:
        return f"{self.source.name} secret {self.fingerprint}"

    def is_active(self, at=None) -> bool:
        return self.expires_at is None or self.expires_at > (at or timezone.now())


class WebhookTrigger(models.Model):
    """Start a job of `job_kind` with `params` when a verified delivery's event matches
    `event_pattern` (`*` matches any run of characters)."""

    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="triggers")
    event_pattern = models.CharField(max_length=200)
    job_kind = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    # Why Bespin turned it off (its task no longer loaded or offered, or its parameters no
    # longer valid for it); empty otherwise.
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "event_pattern"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_pattern"], name="webhook_trigger_pattern_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source.name}: {self.event_pattern} → {self.job_kind}"


class WebhookReceipt(models.Model):
    """A verified delivery, stored once per (source, delivery id).

    `source` is the source's name rather than a foreign key: a receipt is a record of what
    arrived, and outlives a source that is renamed or deleted (or that lives in the environment).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=64)
    event = models.CharField(max_length=200)
    delivery_id = models.CharField(max_length=200)
    payload = models.JSONField()
    headers = models.JSONField(default=dict, blank=True)
    # Only verified deliveries are stored; the field stays in the contract for the seed's clients.
    verified = models.BooleanField(default=True)
    received_at = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_receipts"
    )

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "delivery_id"], name="webhook_receipt_delivery_unique"),
        ]
        indexes = [
            models.Index(fields=["-received_at"], name="webhook_receipt_received_idx"),
            models.Index(fields=["source", "-received_at"], name="webhook_receipt_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.event} {self.id}"
