from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobs import checks, registry  # noqa: F401  (checks: registers them)

        # Every app's tasks module, imported now: in servers, workers and commands alike,
        # before a request, a job or a check asks what the tasks are.
        registry.registered()
