from django.urls import path

from schedules import api

# Included under "api/".
urlpatterns = [
    path("schedules", api.ScheduleList.as_view(), name="api-schedules"),
    path("schedules/<str:schedule_id>", api.ScheduleDetail.as_view(), name="api-schedule-detail"),
]
