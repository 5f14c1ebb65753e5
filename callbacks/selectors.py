"""Reads of callbacks: secrets to sign with, what is due, and what a job's page and API show."""

from datetime import datetime
from functools import lru_cache

from django.db.models import Min, Prefetch
from django.utils import timezone

from bespin.lib import crypto
from callbacks.models import CallbackAttempt, CallbackDelivery, CallbackSecret, DeliveryState
from jobs.models import Job


def has_callback_secret(user) -> bool:
    return user is not None and user.pk is not None and CallbackSecret.objects.filter(user_id=user.pk).exists()


def secret_of(user) -> CallbackSecret | None:
    """The user's callback secret row (still encrypted), or None."""
    return CallbackSecret.objects.filter(user_id=user.pk).first()


@lru_cache(maxsize=4096)
def _decrypt(ciphertext: str) -> str | None:
    # Fernet costs tens of microseconds a call; a sender signs thousands a second with a few secrets.
    return crypto.decrypt(ciphertext)


def signing_secrets(*, user_ids, now: datetime | None = None) -> dict[int, list[str]]:
    """Each user's secrets to sign with: the current one, then the previous one while its
    overlap lasts. A user without a secret (or whose secret no SECRET_KEY decrypts) is absent."""
    now = now or timezone.now()
    found: dict[int, list[str]] = {}
    for row in CallbackSecret.objects.filter(user_id__in=set(user_ids)):
        secrets = [_decrypt(row.ciphertext)]
        if row.previous_ciphertext and row.previous_until and row.previous_until > now:
            secrets.append(_decrypt(row.previous_ciphertext))
        secrets = [secret for secret in secrets if secret]
        if secrets:
            found[row.user_id] = secrets
    return found


def next_due() -> datetime | None:
    """When the earliest pending callback is due (from the partial index: a few rows at most)."""
    return CallbackDelivery.objects.filter(state=DeliveryState.PENDING).aggregate(due=Min("next_attempt_at"))["due"]


def may_see_callbacks(user, job: Job) -> bool:
    """The job's owner and staff. Not whoever holds the job's id, who may read the job: the
    attempts hold what the owner's receiver answered, which is theirs alone."""
    if not user.is_authenticated:
        return False
    return user.is_staff or (job.owner_id is not None and user.pk == job.owner_id)


def deliveries_of(job: Job) -> list[CallbackDelivery]:
    """The job's deliveries, oldest first, each with its attempts (`attempt_log`), oldest first."""
    attempts = Prefetch("attempt_log", queryset=CallbackAttempt.objects.order_by("at", "id"))
    return list(job.callback_deliveries.order_by("created_at", "job_attempt").prefetch_related(attempts))


def attempts_of(job: Job) -> list[CallbackAttempt]:
    """Every attempt of every delivery of the job, oldest first."""
    return list(CallbackAttempt.objects.filter(delivery__job=job).select_related("delivery").order_by("at", "id"))


def delivery_of(job: Job, delivery_id) -> CallbackDelivery | None:
    return job.callback_deliveries.filter(id=delivery_id).first()
