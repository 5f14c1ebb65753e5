from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from rest_framework import serializers

from bespin.lib.errors import flat_messages
from jobs import kinds
from jobs.models import Priority
from schedules import services
from schedules.models import Schedule


class ScheduleForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=lambda: [(name, name) for name in kinds.KINDS])
    priority = forms.ChoiceField(choices=[("", "the kind's"), *Priority.choices], required=False)

    class Meta:
        model = Schedule
        fields = ("name", "cron", "timezone", "kind", "params", "priority", "callback_url", "owner", "enabled")

    def clean(self):
        # The checks of schedules.services, so that the admin shows a bad field beside its input.
        cleaned = super().clean()
        try:
            services.check_fields(
                cron=cleaned.get("cron", ""), tz=cleaned.get("timezone", ""),
                kind=cleaned.get("kind", ""), params=cleaned.get("params"), priority=cleaned.get("priority", ""),
                callback_url=cleaned.get("callback_url", ""), owner=cleaned.get("owner"),
            )  # fmt: skip
        except serializers.ValidationError as error:
            fields = {
                "type": "kind",
                **{name: name for name in ("params", "cron", "timezone", "priority", "callback_url")},
            }
            for path, message in flat_messages(error.detail):
                self.add_error(fields.get(path[0]) if path else None, ValidationError(": ".join([*path[1:], message])))
        return cleaned


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ("name", "cron", "timezone", "kind", "owner", "enabled", "next_run_at", "last_run_at")
    list_filter = ("enabled", "kind")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = ("next_run_at", "last_run_at", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        # Through the services, which keep next_run_at (no work in the model's save()).
        fields = {
            name: form.cleaned_data[name]
            for name in ("name", "cron", "kind", "params", "enabled", "owner", "priority", "callback_url")
        }
        fields["tz"] = form.cleaned_data["timezone"]
        if change:
            saved = services.update_schedule(schedule=Schedule.objects.get(pk=obj.pk), **fields)
        else:
            saved = services.create_schedule(**fields)
        obj.pk, obj.next_run_at = saved.pk, saved.next_run_at

    def delete_model(self, request, obj):
        services.delete_schedule(schedule=obj)
