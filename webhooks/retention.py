"""Receipts are kept until pruned: `manage.py prune_webhooks --older-than 30d`."""

from datetime import timedelta

from django.utils import timezone

from webhooks.models import WebhookReceipt


def prune_receipts(*, older_than: timedelta, batch_size: int = 1000) -> int:
    """Delete receipts received more than `older_than` ago, `batch_size` rows per statement
    so that no single transaction holds a long lock; returns how many went."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        batch = list(WebhookReceipt.objects.filter(received_at__lt=cutoff).values_list("id", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += WebhookReceipt.objects.filter(id__in=batch).delete()[0]
