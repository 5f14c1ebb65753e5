from django.urls import path

from webhooks import views

urlpatterns = [
    path("", views.receipt_list, name="webhook-receipts"),
    path("sources/", views.source_health, name="webhook-sources"),
    path("<uuid:receipt_id>", views.receipt_detail, name="webhook-receipt"),
]
