from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in to the dashboard and the admin, its limits, and the API access page (API
    tokens; other apps add sections through accounts.extensions)."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
