from django.core.management.base import BaseCommand, CommandError

from bespin.durations import duration_argument
from jobs import retention


class Command(BaseCommand):
    help = (
        "Delete finished jobs older than a duration, in batches, and Idempotency-Keys older than "
        "24 h: prune_jobs --older-than 30d"
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, type=duration_argument, help="30d, 12h, 90m, 2w")
        parser.add_argument("--batch-size", type=int, default=1000, help="rows deleted per statement")

    def handle(self, *args, older_than, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        jobs = retention.prune_jobs(older_than=older_than, batch_size=batch_size)
        self.stdout.write(f"deleted {jobs} finished job(s) older than {older_than}")
        keys = retention.prune_idempotency_keys(batch_size=batch_size)
        self.stdout.write(f"deleted {keys} idempotency key(s) older than {retention.IDEMPOTENCY_KEY_TTL}")
