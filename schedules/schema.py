"""What the OpenAPI schema says about schedules beyond what their serializers say: a body per
kind for POST and PATCH, and the time zones."""

import re
from functools import cache

from rest_framework import serializers

from jobs import registry
from jobs.api.schema import ByKind, kind_variant, registered_kinds
from schedules.cron import time_zones
from schedules.serializers import ScheduleInputSerializer


def _schedule_serializers() -> dict[str, type[serializers.Serializer]]:
    return {
        job_kind.name: kind_variant(job_kind, ScheduleInputSerializer, "ScheduleCreate")
        for job_kind in registered_kinds()
    }


def _schedule_changes() -> list[serializers.Serializer]:
    return _changes(registered_kinds())


@cache
def _changes(registered: tuple[registry.JobKind, ...]) -> list[serializers.Serializer]:
    """A change of anything but the kind, or of the kind and its parameters together."""
    unkind = type(
        "ScheduleSettingsChange",
        (ScheduleInputSerializer,),
        {
            "__module__": __name__,
            "__doc__": "A change of any of these; not of the kind.",
            "type": None,
            "params": None,
            "schema_rules": {"not": {"anyOf": [{"required": ["type"]}, {"required": ["params"]}]}},
        },
    )
    kinded = [
        kind_variant(job_kind, ScheduleInputSerializer, "ScheduleChange", ("type", "params")) for job_kind in registered
    ]
    return [serializer(partial=True) for serializer in (unkind, *kinded)]


SCHEDULE_CREATE = ByKind(
    component_name="ScheduleCreate", serializers=_schedule_serializers, resource_type_field_name="type"
)
SCHEDULE_CHANGE = ByKind(component_name="ScheduleChange", serializers=_schedule_changes, resource_type_field_name=None)


def _constant_name(zone: str) -> str:
    # What a generated client names each choice: `Etc/GMT+1` ETC_GMT_PLUS_1, `GMT-0` GMT_MINUS_0.
    zone = re.sub(r"-(?=\d)", "_MINUS_", re.sub(r"\+(?=\d)", "_PLUS_", zone))
    return re.sub(r"[^0-9A-Za-z]+", "_", zone).strip("_").upper()


def components() -> dict:
    """Components the schema's fields name by reference (added by postprocess below): the time
    zones, with a constant name for each that a generated client can use (its own spelling of
    `GMT+0`, `GMT-0` and `GMT0` would be one name thrice)."""
    zones = sorted(time_zones())
    return {
        "TimeZone": {
            "type": "string",
            "enum": zones,
            "x-enum-varnames": [_constant_name(zone) for zone in zones],
            "description": "an IANA time zone name",
        }
    }


def postprocess(result, generator, request, public):
    """drf-spectacular's hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): the TimeZone component."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(components())
    return result
