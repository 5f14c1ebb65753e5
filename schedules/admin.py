from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from rest_framework import serializers

from bespin.lib.errors import flat_messages
from jobs import registry
from jobs.models import Priority
from schedules import services
from schedules.models import Schedule


class ScheduleForm(forms.ModelForm):
    type = forms.ChoiceField(choices=lambda: [(name, name) for name in registry.offered()])
    priority = forms.ChoiceField(choices=[("", "the kind's"), *Priority.choices], required=False)

    class Meta:
        model = Schedule
        fields = services.FIELDS

    def clean(self):
        # The checks of schedules.services, so that the admin shows a bad field beside its input.
        cleaned = super().clean()
        try:
            services.check_fields(**{
                name: cleaned.get(name, "") for name in services.FIELDS if name not in ("name", "enabled")
            })  # fmt: skip
        except serializers.ValidationError as error:
            for path, message in flat_messages(error.detail):
                field = path[0] if path and path[0] in self.fields else None
                self.add_error(field, ValidationError(": ".join([*path[1:], message])))
        if self.instance._state.adding and cleaned.get("owner") is not None:
            try:
                services.check_room(cleaned["owner"])
            except services.TooManySchedules as error:
                self.add_error("owner", ValidationError(str(error).replace("you already have", "they already have")))
        return cleaned


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ("name", "cron", "timezone", "type", "owner", "enabled", "next_run_at", "last_run_at")
    list_filter = ("enabled", "type")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = (
        "next_run_at",
        "last_run_at",
        "skipped_ticks",
        "last_skip_reason",
        "disabled_reason",
        "created_at",
        "updated_at",
    )

    def save_model(self, request, obj, form, change):
        # Through the services, which keep next_run_at (no work in the model's save()).
        fields = {name: form.cleaned_data[name] for name in services.FIELDS}
        if change:
            saved = services.update_schedule(schedule=Schedule.objects.get(pk=obj.pk), **fields)
        else:
            saved = services.create_schedule(**fields)
        obj.pk, obj.next_run_at = saved.pk, saved.next_run_at

    def delete_model(self, request, obj):
        services.delete_schedule(schedule=obj)
