from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in to the dashboard and the admin, and its limits."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
