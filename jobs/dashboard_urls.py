from django.urls import path

from callbacks import views as callback_views
from jobs import bulk_views, schedule_views, views

urlpatterns = [
    path("", views.overview, name="dashboard"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/new", views.start_job, name="job-start"),
    path("jobs/bulk", bulk_views.bulk_action, name="jobs-bulk"),
    path("jobs/<uuid:job_id>", views.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/cancel", views.cancel_job, name="job-cancel"),
    path("jobs/<uuid:job_id>/retry", views.retry_job, name="job-retry"),
    path(
        "jobs/<uuid:job_id>/callbacks/<uuid:delivery_id>/resend", callback_views.resend_callback, name="callback-resend"
    ),
    path("schedules/", schedule_views.schedule_list, name="schedule-list"),
    path("schedules/new", schedule_views.create_schedule, name="schedule-create"),
    path("schedules/<uuid:schedule_id>", schedule_views.schedule_detail, name="schedule-detail"),
    path("schedules/<uuid:schedule_id>/edit", schedule_views.edit_schedule, name="schedule-edit"),
    path("schedules/<uuid:schedule_id>/delete", schedule_views.delete_schedule, name="schedule-delete"),
]
