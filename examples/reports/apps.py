from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """An app of a team's own tasks, loaded with BESPIN_APPS=examples.reports."""

    name = "examples.reports"
    label = "reports"
