import math
import time

from django.conf import settings
from rest_framework import serializers

from jobs.kinds import kind as kinds

# How often a sleeping job reports progress; each report is also where a cancel is noticed.
TICK_SECONDS = 0.2


class SleepParams(serializers.Serializer):
    def get_fields(self):
        # Built per use, so that the maximum follows BESPIN_SLEEP_MAX_SECONDS.
        return {
            "seconds": serializers.FloatField(
                min_value=0, max_value=settings.SLEEP_MAX_SECONDS, help_text="How long to sleep"
            )
        }

    def validate_seconds(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("A valid number is required.")
        return value


def sleep(params: dict, progress: kinds.Progress) -> dict:
    seconds = params["seconds"]
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(TICK_SECONDS, seconds - elapsed))
        progress(min(100, int((time.monotonic() - started) * 100 / seconds)))
    return {"slept": seconds}


KIND = kinds.JobKind(
    name="sleep",
    params_serializer=SleepParams,
    handler=sleep,
    timeout=int(settings.SLEEP_MAX_SECONDS) + 60,
    rerun_safe=True,
    anonymous_ceilings=lambda: {"seconds": settings.ANON_SLEEP_MAX_SECONDS},
    description="Sleeps for `seconds`, reporting progress; the kind demos and reliability tests use.",
)
