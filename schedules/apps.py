from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    """Cron schedules that start jobs: their ticks are a step of the workers' clock."""

    name = "schedules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobs import extensions
        from schedules.services import CLOCK_STEP

        if CLOCK_STEP not in extensions.clock_steps:
            extensions.clock_steps.append(CLOCK_STEP)
