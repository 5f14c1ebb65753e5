"""What the apps' pruning shares: deleting in batches, and the `prune_*` commands' options."""

from django.core.management.base import BaseCommand, CommandError

from bespin.lib.durations import duration_argument


def delete_in_batches(queryset, *, batch_size: int = 1000) -> int:
    """Delete the rows of `queryset`, `batch_size` per statement so that no single transaction
    holds a long lock; returns how many went."""
    deleted = 0
    while True:
        batch = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=batch).delete()[0]


class PruneCommand(BaseCommand):
    """`--older-than 30d [--batch-size N]`; subclasses say what goes in `prune`."""

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, type=duration_argument, help="30d, 12h, 90m, 2w")
        parser.add_argument("--batch-size", type=int, default=1000, help="rows deleted per statement")

    def handle(self, *args, older_than, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        self.prune(older_than=older_than, batch_size=batch_size)

    def prune(self, *, older_than, batch_size: int) -> None:
        raise NotImplementedError
