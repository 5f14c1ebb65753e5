from django.urls import path

from ops import health, metrics

# Included at the site's root.
urlpatterns = [
    path("api/health", health.Health.as_view(), name="api-health"),
    path("metrics", metrics.metrics, name="metrics"),
]
