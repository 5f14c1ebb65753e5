from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

admin.site.site_header = "Bespin administration"
admin.site.site_title = "Bespin admin"
admin.site.index_title = "Jobs, webhooks and users"

urlpatterns = [
    path("api/webhooks", include("webhooks.urls")),
    path("api/", include("jobs.urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("jobs.dashboard_urls")),
]

handler400 = "bespin.errors.bad_request"
handler404 = "bespin.errors.not_found"
handler500 = "bespin.errors.server_error"
