from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    """Completion callbacks: a job's `callback_url` is checked when the job is created, and
    every worker runs the senders that POST ended jobs to theirs."""

    name = "callbacks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from callbacks.sender import start_senders
        from callbacks.validation import validate_callback_url
        from jobs import extensions

        extensions.check_callback_url = validate_callback_url
        if start_senders not in extensions.worker_services:
            extensions.worker_services.append(start_senders)
