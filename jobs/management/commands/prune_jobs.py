from bespin.lib.pruning import PruneCommand
from jobs.execution import retention


class Command(PruneCommand):
    help = (
        "Delete finished jobs older than a duration, in batches, and Idempotency-Keys older than "
        "24 h: prune_jobs --older-than 30d"
    )

    def prune(self, *, older_than, batch_size):
        jobs = retention.prune_jobs(older_than=older_than, batch_size=batch_size)
        self.stdout.write(f"deleted {jobs} finished job(s) older than {older_than}")
        keys = retention.prune_idempotency_keys(batch_size=batch_size)
        self.stdout.write(f"deleted {keys} idempotency key(s) older than {retention.IDEMPOTENCY_KEY_TTL}")
