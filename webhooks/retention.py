"""Receipts are kept until pruned: `manage.py prune_webhooks --older-than 30d`.

A receipt is also what remembers its delivery id, and so what refuses a replay of it: none
is pruned before the largest timestamp tolerance of any source has passed since it arrived.
After that, a replayed timestamped delivery is refused for its stale timestamp instead.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from bespin.lib.pruning import delete_in_batches
from webhooks.models import WebhookReceipt, WebhookSource


def replay_window() -> timedelta:
    """The longest any source accepts a signed timestamp: receipts live at least this long."""
    largest = WebhookSource.objects.aggregate(largest=Max("tolerance_seconds"))["largest"] or 0
    return timedelta(seconds=max(largest, settings.WEBHOOK_TOLERANCE_SECONDS))


def prune_receipts(*, older_than: timedelta, batch_size: int = 1000) -> int:
    """Delete receipts received more than `older_than` ago (never less than replay_window()),
    `batch_size` rows per statement so that no single transaction holds a long lock; returns
    how many went."""
    cutoff = timezone.now() - max(older_than, replay_window())
    return delete_in_batches(WebhookReceipt.objects.filter(received_at__lt=cutoff), batch_size=batch_size)
