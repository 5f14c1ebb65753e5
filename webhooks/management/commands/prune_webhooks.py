from bespin.lib.pruning import PruneCommand
from webhooks import retention


class Command(PruneCommand):
    help = "Delete webhook receipts older than a duration, in batches: prune_webhooks --older-than 30d"

    def prune(self, *, older_than, batch_size):
        deleted = retention.prune_receipts(older_than=older_than, batch_size=batch_size)
        self.stdout.write(f"deleted {deleted} webhook receipt(s) older than {older_than}")
