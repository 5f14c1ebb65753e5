"""System checks of the jobs app's settings (run by every management command, workers'
included)."""

from django.conf import settings
from django.core.checks import Error, register

from jobs import kinds


@register()
def check_concurrency_limits(app_configs, **kwargs):
    """BESPIN_MAX_CONCURRENCY names only kinds that exist: a misspelt name would limit nothing."""
    unknown = sorted(set(settings.MAX_CONCURRENCY) - set(kinds.KINDS))
    if not unknown:
        return []
    return [
        Error(
            f"BESPIN_MAX_CONCURRENCY names {', '.join(map(repr, unknown))}, which is no job kind",
            hint=f"use kinds from: {', '.join(sorted(kinds.KINDS))}",
            id="jobs.E001",
        )
    ]
