from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bespin import errors, metrics, ops, signin

admin.site.site_header = "Bespin administration"
admin.site.site_title = "Bespin admin"
admin.site.index_title = "Jobs, webhooks and users"
# Sign-in limits (bespin.signin) at the admin too. Wrapping the site's own login view keeps
# its URL, redirects and template; a subclass of AdminSite would need its own AdminConfig.
admin.site.login_form = signin.AdminSignInForm
admin.site.login = signin.refused_with_429(admin.site.login)

urlpatterns = [
    # The job API first, its hot paths matched without trying the other includes
    # (resolving /api/jobs/random-text: 36 -> 26 µs).
    path("api/", include("jobs.urls")),
    path("api/", include("webhooks.urls")),
    path("api/health", ops.Health.as_view(), name="api-health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # The WebSockets' URLs (jobs/routing.py), asked over plain HTTP.
    re_path(r"^api/ws(?:/jobs)?/?$", errors.websocket_only),
    path("api/", include("callbacks.urls")),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        signin.refused_with_429(auth_views.LoginView.as_view(authentication_form=signin.SignInForm)),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("webhooks/", include("webhooks.dashboard_urls")),
    path("", include("jobs.dashboard_urls")),
]

handler400 = "bespin.errors.bad_request"
handler404 = "bespin.errors.not_found"
handler500 = "bespin.errors.server_error"
