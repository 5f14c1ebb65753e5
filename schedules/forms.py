"""The dashboard's schedule form: create one, or change it."""

from django import forms
from rest_framework import serializers

from bespin.lib.errors import flat_messages
from jobs import registry
from jobs.models import Priority
from schedules.cron import CRON_HINT

# Where the services' error keys (schedules.services) go on this form.
_FIELD_OF = {name: name for name in ("cron", "timezone", "type", "params", "priority", "callback_url")}


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=200)
    cron = forms.CharField(
        max_length=200, label="Cron expression", help_text=CRON_HINT,
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off", "placeholder": "*/15 * * * *"}),
    )  # fmt: skip
    timezone = forms.CharField(
        max_length=64, initial="UTC", label="Time zone", help_text="An IANA time zone, such as UTC or Europe/Berlin."
    )
    type = forms.ChoiceField(label="Job type", choices=lambda: [(name, name) for name in registry.offered()])
    params = forms.JSONField(
        required=False, initial=dict, label="Parameters (JSON)",
        help_text='The job\'s parameters, as for POST /api/jobs: {"seconds": 5} for sleep.',
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )  # fmt: skip
    priority = forms.ChoiceField(
        required=False, choices=[("", "the kind's"), *Priority.choices], help_text="Of the jobs it starts."
    )
    callback_url = forms.CharField(
        required=False, max_length=2000, label="Callback URL",
        help_text="Where each job it starts is POSTed once it ends, signed with your callback secret.",
    )  # fmt: skip
    enabled = forms.BooleanField(required=False, initial=True)

    @classmethod
    def of(cls, schedule):
        """The form filled in with a schedule's fields, to change it."""
        return cls(initial={
            "name": schedule.name, "cron": schedule.cron, "timezone": schedule.timezone, "type": schedule.type,
            "params": schedule.params, "priority": schedule.priority, "callback_url": schedule.callback_url,
            "enabled": schedule.enabled,
        })  # fmt: skip

    def service_fields(self) -> dict:
        """The cleaned fields, for schedules.services."""
        data = self.cleaned_data
        return {name: data[name] for name in self.fields} | {"params": data["params"] or {}}

    def add_service_errors(self, error: serializers.ValidationError) -> None:
        """Show the services' messages beside the inputs they are about."""
        for path, message in flat_messages(error.detail):
            field = _FIELD_OF.get(path[0]) if path else None
            self.add_error(field, ": ".join([*path[1:], message]))
