from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from bespin.lib.schema import QueryBooleanField, QueryFilter
from webhooks.models import WebhookReceipt


class ReceiptSerializer(serializers.ModelSerializer):
    job_id = serializers.UUIDField(read_only=True, allow_null=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = WebhookReceipt
        fields = [
            "id", "source", "event", "delivery_id", "payload", "headers", "verified", "received_at", "job_id", "links",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "required": ["self"],
            "properties": {
                "self": {"type": "string", "format": "uri", "description": "this receipt"},
                "job": {"type": "string", "format": "uri", "description": "the job it started, if one"},
            },
        }
    )
    def get_links(self, receipt: WebhookReceipt) -> dict:
        request = self.context.get("request")
        links = {"self": reverse("api-webhook-receipt", args=[receipt.id], request=request)}
        if receipt.job_id:
            links["job"] = reverse("api-job-detail", args=[receipt.job_id], request=request)
        return links


class ReceiptListFilter(QueryFilter):
    # Matched exactly as stored: trimmed, `?event=%0D` would be refused as blank.
    source = serializers.CharField(required=False, max_length=64, trim_whitespace=False)
    event = serializers.CharField(required=False, max_length=200, trim_whitespace=False)
    # allow_null: an absent flag means "either", not false (DRF reads a missing checkbox as false).
    verified = QueryBooleanField(required=False, allow_null=True, default=None)
    received_after = serializers.DateTimeField(required=False)
    received_before = serializers.DateTimeField(required=False)
