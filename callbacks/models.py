"""Completion callbacks: each user's signing secret, the callbacks due for jobs that ended, and
every attempt to send one.

A CallbackDelivery is written by PostgreSQL itself (the trigger of migration 0001), in the
transaction that ends the job, so that no path that ends a job can forget it and no crash
between the two can lose it. The workers send it (callbacks.sender) and record each attempt.
"""

from django.conf import settings
from django.db import models

from jobs.models import Job


class CallbackSecret(models.Model):
    """The secret a user's callbacks are signed with (Standard Webhooks, `whsec_…`),
    encrypted at rest like webhook secrets (bespin.lib.crypto). After a rotation the previous
    secret signs too until `previous_until`, so a receiver can switch without missing one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="callback_secret")
    ciphertext = models.TextField(editable=False)
    previous_ciphertext = models.TextField(blank=True, default="", editable=False)
    previous_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"callback secret of user {self.user_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # due at next_attempt_at (or being sent, until its claim runs out)
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # every attempt of the backoff schedule failed
    GONE = "gone"  # the receiver answered 410 Gone: no more attempts


class CallbackDelivery(models.Model):
    """One event to tell a receiver about: attempt `job_attempt` of a job ended `job_status`."""

    id = models.UUIDField(primary_key=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="callback_deliveries")
    job_attempt = models.PositiveIntegerField()
    job_status = models.CharField(max_length=16)
    # `webhook-id`, the same on every attempt: receivers deduplicate by it.
    webhook_id = models.CharField(max_length=64, unique=True)
    url = models.CharField(max_length=2000)
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Attempts made before the current backoff schedule began: "Send again" starts it over.
    schedule_start = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Set while a worker sends it; next_attempt_at is then the end of that claim, after which
    # another worker may take it (the first one was killed, or its database went away).
    claim = models.UUIDField(null=True, blank=True)
    # The body, kept from the first attempt on, so that every retry of one webhook-id carries
    # the same bytes; empty until then.
    body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["job", "job_attempt"], name="callback_per_job_attempt")]
        indexes = [
            # What the senders look for: a few rows, however many deliveries are kept.
            models.Index(
                fields=["next_attempt_at"], name="callback_due_idx", condition=models.Q(state=DeliveryState.PENDING)
            ),
            # Those being sent, counted per owner by every claim: a few rows too.
            models.Index(
                fields=["job"],
                name="callback_sending_idx",
                condition=models.Q(state=DeliveryState.PENDING, claim__isnull=False),
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.state})"


class CallbackAttempt(models.Model):
    """One POST of a delivery: what the receiver answered, or why there was no answer."""

    delivery = models.ForeignKey(CallbackDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null: no answer
    duration_ms = models.PositiveIntegerField(default=0)
    response = models.TextField(blank=True, default="")  # the answer's first RESPONSE_KEPT bytes
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["delivery", "at"], name="callback_attempt_delivery_idx")]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at:%H:%M:%S}: {self.status_code or self.error[:40]}"
