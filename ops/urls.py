from django.urls import path

from ops import health, metrics

# Included at the site's root.
urlpatterns = [
    path("api/health", health.Health.as_view(), name="api-health"),
    path("api/health/ready", health.Ready.as_view(), name="api-health-ready"),
    path("api/health/live", health.Live.as_view(), name="api-health-live"),
    path("metrics", metrics.metrics, name="metrics"),
]
