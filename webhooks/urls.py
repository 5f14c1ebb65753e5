from django.urls import path

from webhooks import api

# Included under "api/". `/api/webhooks/<key>` is both the delivery URL (POST) and a
# receipt's URL (GET), as in the seed.
urlpatterns = [
    path("webhooks", api.ReceiptList.as_view(), name="api-webhooks"),
    path("webhooks/", api.ReceiptList.as_view(schema=None)),  # an alias, left out of the schema
    path("webhooks/<str:key>", api.source_or_receipt, name="api-webhook-receipt"),
]
