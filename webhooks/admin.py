"""Sources (with write-only secrets and triggers) and read-only receipts with a replay action.

Every save goes through webhooks.sources (replay through webhooks.receipts), as the commands
do: the admin never writes a webhook model itself.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from rest_framework import serializers

from bespin.lib.ids import parse_uuid
from jobs import registry
from webhooks import receipts, selectors, sources
from webhooks.models import WebhookReceipt, WebhookSecret, WebhookSource, WebhookTrigger
from webhooks.schemes import get_scheme


class WebhookSourceForm(forms.ModelForm):
    new_secret = forms.CharField(
        required=False,
        strip=True,
        # render_value=False: a secret is never sent back to the browser, not even after an error.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Added as one more active secret, stored encrypted; it is never shown again. "
        "Retire the old one below once the sender uses the new one.",
    )

    class Meta:
        model = WebhookSource
        fields = ["name", "scheme", "enabled", "tolerance_seconds", "rate_per_minute"]

    def clean(self):
        cleaned = super().clean()
        secret, scheme = cleaned.get("new_secret"), cleaned.get("scheme")
        if secret and scheme and get_scheme(scheme).key(secret) is None:
            self.add_error("new_secret", f"not a secret the {scheme} scheme can use")
        return cleaned


class WebhookSecretInline(admin.TabularInline):
    model = WebhookSecret
    fields = ["fingerprint", "created_at", "expires_at", "active"]
    readonly_fields = ["fingerprint", "created_at", "active"]
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False  # through the source's "new secret" field

    @admin.display(boolean=True)
    def active(self, secret: WebhookSecret) -> bool:
        return secret.is_active()


class WebhookTriggerForm(forms.ModelForm):
    # A callable: the tasks offered when the form is shown, those of apps loaded after this one's admin too.
    job_kind = forms.ChoiceField(choices=lambda: [(name, name) for name in registry.offered()])

    class Meta:
        model = WebhookTrigger
        fields = ["event_pattern", "job_kind", "params", "enabled"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("job_kind") and not self.errors:
            try:
                registry.validate_params(kind=cleaned["job_kind"], params=cleaned.get("params") or {})
            except serializers.ValidationError as error:
                self.add_error("params", json.dumps(error.detail))
        return cleaned


class WebhookTriggerInline(admin.TabularInline):
    model = WebhookTrigger
    form = WebhookTriggerForm
    extra = 0
    # Set by Bespin when it turns a trigger off (its task gone, say); saving it again clears it.
    readonly_fields = ["disabled_reason"]


@admin.register(WebhookSource)
class WebhookSourceAdmin(admin.ModelAdmin):
    form = WebhookSourceForm
    list_display = ["name", "scheme", "enabled", "active_secrets", "rate_per_minute", "tolerance_seconds", "updated_at"]
    list_filter = ["scheme", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["rejections"]
    inlines = [WebhookSecretInline, WebhookTriggerInline]

    def get_readonly_fields(self, request, obj=None):
        # The name is the source's URL and receipts keep it: fixed once the source exists.
        return ["name", "rejections"] if obj else ["rejections"]

    @admin.display(description="active secrets")
    def active_secrets(self, source: WebhookSource) -> int:
        return sum(secret.is_active() for secret in source.secrets.all())

    @admin.display(description="recent rejections")
    def rejections(self, source: WebhookSource):
        if not source.pk:
            return "-"
        counts = selectors.rejection_counts(source.name)
        recent = selectors.recent_rejections(source.name)
        if not counts:
            return "none"
        totals = ", ".join(f"{reason}: {count}" for reason, count in sorted(counts.items()))
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            ((entry["at"], entry["status"], entry["message"], entry["body_head"][:80]) for entry in recent),
        )  # fmt: skip
        return format_html("<p>{}</p><table>{}</table>", totals, rows)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("secrets")

    def save_model(self, request, obj, form, change):
        sources.save_source(source=obj)
        if form.cleaned_data.get("new_secret"):
            sources.add_secret(source=obj, secret=form.cleaned_data["new_secret"])

    def delete_model(self, request, obj):
        sources.delete_source(source=obj)

    def save_formset(self, request, form, formset, change):
        # Instead of formset.save(): each change through its service. The admin's history
        # reads these three lists, which formset.save() would have filled.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item in formset.deleted_forms:
            if item.instance.pk:
                if formset.model is WebhookSecret:
                    sources.delete_secret(secret=item.instance)
                else:
                    sources.delete_trigger(trigger=item.instance)
                formset.deleted_objects.append(item.instance)
        for item in formset.forms:
            if item in formset.deleted_forms or not item.has_changed():
                continue
            if formset.model is WebhookSecret:
                sources.set_secret_expiry(secret=item.instance, expires_at=item.cleaned_data["expires_at"])
                formset.changed_objects.append((item.instance, item.changed_data))
                continue
            data = item.cleaned_data
            if item.instance.pk and "event_pattern" in item.changed_data:
                sources.delete_trigger(trigger=WebhookTrigger.objects.get(pk=item.instance.pk))
            trigger = sources.set_trigger(
                source=form.instance, event_pattern=data["event_pattern"], job_kind=data["job_kind"],
                params=data.get("params") or {}, enabled=data.get("enabled", True),
            )  # fmt: skip
            (formset.changed_objects.append((trigger, item.changed_data)) if item.instance.pk
             else formset.new_objects.append(trigger))  # fmt: skip


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "event", "verified", "received_at", "job"]
    list_filter = ["source", "verified", "received_at", "event"]
    search_fields = ["=delivery_id", "event", "source"]
    date_hierarchy = "received_at"
    list_select_related = ["job"]
    fields = [
        "id",
        "source",
        "event",
        "delivery_id",
        "verified",
        "received_at",
        "job",
        "headers_pretty",
        "payload_pretty",
    ]
    readonly_fields = fields
    actions = ["replay"]

    def has_add_permission(self, request):
        return False  # receipts come from verified deliveries only

    def has_change_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        # Searching by receipt id: a UUID column cannot be searched with `icontains`.
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        receipt_id = parse_uuid(search_term.strip())
        if receipt_id is not None:
            found |= queryset.filter(id=receipt_id)
        return found, may_have_duplicates

    @admin.display(description="headers")
    def headers_pretty(self, receipt: WebhookReceipt):
        return format_html("<pre>{}</pre>", json.dumps(receipt.headers, indent=2, sort_keys=True))

    @admin.display(description="payload")
    def payload_pretty(self, receipt: WebhookReceipt):
        return format_html("<pre>{}</pre>", json.dumps(receipt.payload, indent=2, sort_keys=True))

    @admin.action(description="Replay: run the source's triggers again")
    def replay(self, request, queryset):
        started = sum(receipts.replay_receipt(receipt=receipt) is not None for receipt in queryset)
        skipped = queryset.count() - started
        self.message_user(request, f"{started} job(s) started; {skipped} receipt(s) matched no trigger.", messages.INFO)
