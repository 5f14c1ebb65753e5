from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What an operator reads: health and Prometheus metrics, over every app."""

    name = "ops"
