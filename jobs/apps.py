from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        from jobs import checks, events, registry  # noqa: F401  (checks: registers them)

        # Signing out closes the streams the session opened (jobs.consumers).
        user_logged_out.connect(events.signed_out, dispatch_uid="jobs.events.signed_out")

        # Every app's tasks module, imported now: in servers, workers and commands alike,
        # before a request, a job or a check asks what the tasks are.
        registry.registered()
