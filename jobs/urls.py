from django.urls import path

from jobs import actions_api, api, info_api, schedule_api

urlpatterns = [
    path("", info_api.ApiRoot.as_view(), name="api-root"),
    path("test", info_api.Liveness.as_view(), name="api-test"),
    path("jobs", api.JobList.as_view(), name="api-jobs"),
    path("jobs/test", info_api.JobsLiveness.as_view(), name="api-jobs-test"),
    path("jobs/random-text", api.RandomTextJob.as_view(), name="api-random-text"),
    path("jobs/batch", api.JobBatch.as_view(), name="api-jobs-batch"),
    path("jobs/cancel", actions_api.JobsCancel.as_view(), name="api-jobs-cancel"),
    path("jobs/retry", actions_api.JobsRetry.as_view(), name="api-jobs-retry"),
    path("jobs/<str:job_id>", api.JobDetail.as_view(), name="api-job-detail"),
    path("jobs/<str:job_id>/cancel", actions_api.JobCancel.as_view(), name="api-job-cancel"),
    path("jobs/<str:job_id>/retry", actions_api.JobRetry.as_view(), name="api-job-retry"),
    path("schedules", schedule_api.ScheduleList.as_view(), name="api-schedules"),
    path("schedules/<str:schedule_id>", schedule_api.ScheduleDetail.as_view(), name="api-schedule-detail"),
]
