"""Read-only views of callbacks: deliveries with their attempts, and which users have a secret
(never the secret: users rotate theirs with POST /api/me/callback-secret)."""

from django.contrib import admin

from callbacks.models import CallbackAttempt, CallbackDelivery, CallbackSecret


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AttemptInline(admin.TabularInline):
    model = CallbackAttempt
    fields = ["at", "status_code", "duration_ms", "error", "response"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(_ReadOnly):
    list_display = ("webhook_id", "job", "job_attempt", "job_status", "state", "attempts", "next_attempt_at")
    list_filter = ("state", "job_status")
    search_fields = ("webhook_id", "job__id", "url")
    readonly_fields = [f.name for f in CallbackDelivery._meta.fields if f.name != "body"]
    exclude = ["body"]
    inlines = [AttemptInline]


@admin.register(CallbackSecret)
class CallbackSecretAdmin(_ReadOnly):
    list_display = ("user", "created_at", "previous_until")
    fields = ["user", "created_at", "previous_until"]
    readonly_fields = fields
