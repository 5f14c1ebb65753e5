from django.urls import path

from callbacks import views

# Included at the site's root, beside the job pages they belong to.
urlpatterns = [
    path("jobs/<uuid:job_id>/callbacks/<uuid:delivery_id>/resend", views.resend_callback, name="callback-resend"),
]
