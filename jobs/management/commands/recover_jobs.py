from django.core.management.base import BaseCommand

from jobs.execution import recovery, tallies


class Command(BaseCommand):
    help = (
        "Re-queue or fail jobs whose worker died, enqueue pending jobs that Redis lost, and fold "
        "the job counts' deltas into their totals. Workers run this every few seconds; it is "
        "safe to run anywhere, any time."
    )

    def handle(self, *args, **options):
        report = recovery.recover_jobs()
        tallies.roll_up()
        self.stdout.write(
            f"lost jobs re-queued: {len(report.requeued_lost)}, lost jobs failed: {len(report.failed_lost)}, "
            f"pending jobs enqueued again: {len(report.reenqueued)}"
        )
