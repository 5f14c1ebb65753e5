from django.urls import path

from callbacks import api

urlpatterns = [
    path("jobs/<str:job_id>/callbacks", api.JobCallbacks.as_view(), name="api-job-callbacks"),
    path("me/callback-secret", api.CallbackSecretView.as_view(), name="api-callback-secret"),
]
