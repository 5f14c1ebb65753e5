from django.urls import path

from jobs.dashboard import bulk, tasks, views

urlpatterns = [
    path("", views.overview, name="dashboard"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/new", views.start_job, name="job-start"),
    path("jobs/bulk", bulk.bulk_action, name="jobs-bulk"),
    path("jobs/<uuid:job_id>", views.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/cancel", views.cancel_job, name="job-cancel"),
    path("jobs/<uuid:job_id>/retry", views.retry_job, name="job-retry"),
    path("tasks/", tasks.task_list, name="task-list"),
    path("tasks/<str:name>/", tasks.task_detail, name="task-detail"),
]
