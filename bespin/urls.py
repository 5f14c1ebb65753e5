"""The site's URLs: each app's, included by name (the project imports no app)."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bespin.lib import errors

urlpatterns = [
    # The job API first, its hot paths matched without trying the other includes.
    path("api/", include("jobs.api.urls")),
    path("api/", include("webhooks.urls")),
    path("api/", include("schedules.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # The WebSockets' URLs (jobs/routing.py), asked over plain HTTP.
    re_path(r"^api/ws(?:/jobs)?/?$", errors.websocket_only),
    path("api/", include("callbacks.urls")),
    path("", include("ops.urls")),
    # Nothing else under /api/: a JSON 404, DEBUG or not (any other path is the dashboard's).
    re_path(r"^api/(?P<rest>.*)$", errors.api_not_found),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("webhooks/", include("webhooks.dashboard_urls")),
    path("schedules/", include("schedules.dashboard_urls")),
    path("", include("callbacks.dashboard_urls")),
    path("", include("jobs.dashboard.urls")),
]

handler400 = "bespin.lib.errors.bad_request"
handler404 = "bespin.lib.errors.not_found"
handler500 = "bespin.lib.errors.server_error"
