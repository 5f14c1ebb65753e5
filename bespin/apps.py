from django.apps import AppConfig


class BespinConfig(AppConfig):
    """The project package as an app, for its system checks (bespin/checks.py)."""

    name = "bespin"

    def ready(self):
        from bespin import checks  # noqa: F401  (registers the checks)
