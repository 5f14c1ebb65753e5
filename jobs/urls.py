from django.urls import path

from jobs import api

urlpatterns = [
    path("", api.ApiRoot.as_view(), name="api-root"),
    path("test", api.Liveness.as_view(), name="api-test"),
    path("jobs", api.JobList.as_view(), name="api-jobs"),
    path("jobs/test", api.JobsLiveness.as_view(), name="api-jobs-test"),
    path("jobs/random-text", api.RandomTextJob.as_view(), name="api-random-text"),
    path("jobs/batch", api.JobBatch.as_view(), name="api-jobs-batch"),
    path("jobs/<str:job_id>", api.JobDetail.as_view(), name="api-job-detail"),
    path("jobs/<str:job_id>/cancel", api.JobCancel.as_view(), name="api-job-cancel"),
    path("jobs/<str:job_id>/retry", api.JobRetry.as_view(), name="api-job-retry"),
]
