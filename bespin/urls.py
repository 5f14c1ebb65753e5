from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bespin import metrics, ops

admin.site.site_header = "Bespin administration"
admin.site.site_title = "Bespin admin"
admin.site.index_title = "Jobs, webhooks and users"

urlpatterns = [
    path("api/", include("webhooks.urls")),
    path("api/health", ops.Health.as_view(), name="api-health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("jobs.urls")),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("webhooks/", include("webhooks.dashboard_urls")),
    path("", include("jobs.dashboard_urls")),
]

handler400 = "bespin.errors.bad_request"
handler404 = "bespin.errors.not_found"
handler500 = "bespin.errors.server_error"
