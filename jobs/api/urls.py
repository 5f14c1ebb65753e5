from django.urls import path

from jobs.api import actions, info, views

urlpatterns = [
    path("", info.ApiRoot.as_view(), name="api-root"),
    path("test", info.Liveness.as_view(), name="api-test"),
    path("jobs", views.JobList.as_view(), name="api-jobs"),
    path("jobs/test", info.JobsLiveness.as_view(), name="api-jobs-test"),
    path("jobs/random-text", views.RandomTextJob.as_view(), name="api-random-text"),
    path("jobs/batch", views.JobBatch.as_view(), name="api-jobs-batch"),
    path("jobs/cancel", actions.JobsCancel.as_view(), name="api-jobs-cancel"),
    path("jobs/retry", actions.JobsRetry.as_view(), name="api-jobs-retry"),
    path("jobs/<str:job_id>", views.JobDetail.as_view(), name="api-job-detail"),
    path("jobs/<str:job_id>/cancel", actions.JobCancel.as_view(), name="api-job-cancel"),
    path("jobs/<str:job_id>/retry", actions.JobRetry.as_view(), name="api-job-retry"),
]
