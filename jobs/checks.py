"""System checks of the jobs app's settings (run by every management command, workers'
included)."""

from django.conf import settings
from django.core.checks import Error, register

from jobs import registry


@register()
def check_task_settings(app_configs, **kwargs):
    """The settings that name tasks name only tasks that are loaded: a misspelt name would
    limit, time or offer nothing."""
    names = set(registry.registered())
    named = {
        "BESPIN_MAX_CONCURRENCY": set(settings.MAX_CONCURRENCY),
        "BESPIN_TASK_TIMEOUT": set(settings.TASK_TIMEOUT),
        "BESPIN_TASK_RETRIES": set(settings.TASK_RETRIES),
        "BESPIN_API_TASKS": set(settings.API_TASKS),
        "BESPIN_ANON_TASKS": set(settings.ANON_TASKS),
    }
    return [
        Error(
            f"{setting} names {', '.join(map(repr, sorted(unknown)))}, which is no task loaded",
            hint=f"the tasks loaded: {', '.join(sorted(names))} (BESPIN_APPS adds apps)",
            id="jobs.E001",
        )
        for setting, given in named.items()
        if (unknown := given - names)
    ]
