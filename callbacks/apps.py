from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    """Completion callbacks: a job's `callback_url` is checked when the job is created, every
    worker runs the senders that POST ended jobs to theirs, and the API access page has a
    section to create and rotate the signing secret."""

    name = "callbacks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts import extensions as accounts_extensions
        from callbacks.sender import start_senders
        from callbacks.validation import validate_callback_url
        from callbacks.views import SECRET_SECTION
        from jobs import extensions

        extensions.check_callback_url = validate_callback_url
        if start_senders not in extensions.worker_services:
            extensions.worker_services.append(start_senders)
        # The API access page's callback secret section.
        if SECRET_SECTION not in accounts_extensions.access_sections:
            accounts_extensions.access_sections.append(SECRET_SECTION)
