from rest_framework import serializers

from callbacks.models import CallbackAttempt, CallbackDelivery, DeliveryState


class AttemptSerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="delivery.webhook_id", help_text="the event this attempt sent")
    status_code = serializers.IntegerField(allow_null=True, help_text="null when no answer came")
    response = serializers.CharField(help_text="the first 1 KiB of the answer's body")

    class Meta:
        model = CallbackAttempt
        fields = ["at", "status_code", "duration_ms", "response", "error", "webhook_id"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="when it is tried next; null once it is delivered, failed or gone"
    )

    class Meta:
        model = CallbackDelivery
        fields = ["webhook_id", "job_attempt", "job_status", "url", "state", "attempts", "next_attempt_at",
                  "created_at", "finished_at"]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.state != DeliveryState.PENDING:
            # The column keeps the last claim's end, which is no attempt to come.
            data["next_attempt_at"] = None
        return data


class CallbackLogSerializer(serializers.Serializer):
    """`GET /api/jobs/<id>/callbacks`."""

    callback_url = serializers.CharField(help_text="the job's callback URL; empty: none")
    deliveries = DeliverySerializer(many=True, help_text="one per attempt of the job that ended, oldest first")
    attempts = AttemptSerializer(many=True, help_text="every POST made, oldest first")


class SecretSerializer(serializers.Serializer):
    """`POST /api/me/callback-secret`: the new secret, shown this once."""

    secret = serializers.CharField(help_text="whsec_…: verify callbacks with it (Standard Webhooks)")
    previous_valid_until = serializers.DateTimeField(
        allow_null=True, help_text="after a rotation: until when the replaced secret signs too (a second signature)"
    )
