from django.urls import path

from schedules import views

urlpatterns = [
    path("", views.schedule_list, name="schedule-list"),
    path("new", views.create_schedule, name="schedule-create"),
    path("<uuid:schedule_id>", views.schedule_detail, name="schedule-detail"),
    path("<uuid:schedule_id>/edit", views.edit_schedule, name="schedule-edit"),
    path("<uuid:schedule_id>/delete", views.delete_schedule, name="schedule-delete"),
]
