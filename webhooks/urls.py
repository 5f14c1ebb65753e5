from django.urls import path

from webhooks import api

# Included under "api/". `/api/webhooks/<key>` is also the delivery URL (POST), which
# webhooks.endpoint answers before Django sees it.
urlpatterns = [
    path("webhooks", api.ReceiptList.as_view(), name="api-webhooks"),
    path("webhooks/", api.ReceiptList.as_view(schema=None)),  # an alias, left out of the schema
    path("webhooks/<str:key>", api.ReceiptDetail.as_view(), name="api-webhook-receipt"),
]
