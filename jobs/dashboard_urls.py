from django.urls import path

from jobs import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("jobs/new", views.start_job, name="job-start"),
    path("jobs/<uuid:job_id>", views.job_detail, name="job-detail"),
]
