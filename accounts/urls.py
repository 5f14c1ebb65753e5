from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import signin, views

# Included under "accounts/".
urlpatterns = [
    path(
        "login/",
        signin.refused_with_429(auth_views.LoginView.as_view(authentication_form=signin.SignInForm)),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api-access/", views.api_access, name="api-access"),
    path("api-access/<slug:section>", views.change_access, name="api-access-change"),
]
