from django.urls import path

from callbacks import views as callback_views
from jobs import views

urlpatterns = [
    path("", views.overview, name="dashboard"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/new", views.start_job, name="job-start"),
    path("jobs/<uuid:job_id>", views.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/cancel", views.cancel_job, name="job-cancel"),
    path("jobs/<uuid:job_id>/retry", views.retry_job, name="job-retry"),
    path(
        "jobs/<uuid:job_id>/callbacks/<uuid:delivery_id>/resend", callback_views.resend_callback, name="callback-resend"
    ),
]
