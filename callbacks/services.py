"""Changes users make: their signing secret, and sending a failed callback again."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from bespin.lib import crypto
from callbacks import signing
from callbacks.models import CallbackDelivery, CallbackSecret, DeliveryState

# How long the previous secret still signs after a rotation, for receivers to switch.
SECRET_OVERLAP = timedelta(hours=24)
# The channel the senders LISTEN on; the trigger of migration 0001 notifies it too.
NOTIFY_CHANNEL = "bespin_callbacks"


class NotResendable(Exception):
    """Only a failed or gone delivery can be sent again."""


@dataclass(frozen=True)
class Rotated:
    secret: str  # shown once, never stored in the clear
    replaced: bool  # a secret existed, and still signs until previous_until
    previous_until: datetime | None


def rotate_callback_secret(*, user) -> Rotated:
    """Create the user's callback signing secret, or replace it. The one replaced keeps
    signing (a second signature) for SECRET_OVERLAP, so a receiver can switch without missing
    a callback; a second rotation within that time drops the oldest at once."""
    secret = signing.new_secret()
    now = timezone.now()
    with transaction.atomic():
        current = CallbackSecret.objects.select_for_update().filter(user=user).first()
        if current is None:
            CallbackSecret.objects.create(user=user, ciphertext=crypto.encrypt(secret), created_at=now)
            return Rotated(secret=secret, replaced=False, previous_until=None)
        current.previous_ciphertext = current.ciphertext
        current.previous_until = now + SECRET_OVERLAP
        current.ciphertext = crypto.encrypt(secret)
        current.created_at = now
        current.save(update_fields=["ciphertext", "previous_ciphertext", "previous_until", "created_at"])
    return Rotated(secret=secret, replaced=True, previous_until=current.previous_until)


def resend_delivery(*, delivery: CallbackDelivery) -> CallbackDelivery:
    """Send a failed (or gone) callback again now, with its webhook-id and body, its backoff
    schedule started over. Raises NotResendable for one that is pending or delivered."""
    with transaction.atomic():
        updated = CallbackDelivery.objects.filter(
            id=delivery.id, state__in=(DeliveryState.FAILED, DeliveryState.GONE)
        ).update(
            state=DeliveryState.PENDING,
            schedule_start=F("attempts"),
            next_attempt_at=timezone.now(),
            finished_at=None,
            claim=None,
        )
        if not updated:
            delivery.refresh_from_db()
            raise NotResendable(f"this callback is {delivery.state}; only failed ones can be sent again")
        wake_senders()
    delivery.refresh_from_db()
    return delivery


def wake_senders() -> None:
    """Tell every worker's sender, once the current transaction commits, that a callback is due."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
