from django.apps import AppConfig
from django.core.signals import setting_changed


def _forget_cached_sources(*, setting, **kwargs):
    if setting.startswith("WEBHOOK_") or setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        from webhooks.config import forget_source_configs

        forget_source_configs()


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        setting_changed.connect(_forget_cached_sources, dispatch_uid="webhooks_forget_cached_sources")
