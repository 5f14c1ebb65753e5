"""`GET /api/health`: database, Redis, channel layer and live workers."""

import time

from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bespin.lib.redis import queue_client
from jobs import events, selectors


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_redis() -> str:
    queue_client().ping()
    return "ok"


def _check_channel_layer() -> str:
    events.run(events.layer_check(), timeout=3)
    return "ok"


def _check_workers() -> str:
    count = selectors.live_worker_count()
    if count == 0:
        raise RuntimeError("no live workers: start one with `python manage.py rqworker default`")
    return f"{count} live"


CHECKS = {
    "database": _check_database,
    "redis": _check_redis,
    "channel_layer": _check_channel_layer,
    "workers": _check_workers,
}


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField(help_text="what it found; for staff, why it failed")
    ms = serializers.FloatField(min_value=0, help_text="how long the check took")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "failing"])
    checks = serializers.DictField(child=CheckSerializer(), help_text=f"one per part: {', '.join(CHECKS)}")
    error = serializers.CharField(required=False, help_text="the failing parts, when one is")


class Health(APIView):
    """Database, Redis, channel layer and live workers; 503 naming the failing part."""

    @extend_schema(
        operation_id="health",
        responses={200: HealthSerializer, 503: OpenApiResponse(HealthSerializer, "a part is failing")},
    )
    def get(self, request):
        checks, failing = {}, []
        for name, check in CHECKS.items():
            started = time.perf_counter()
            try:
                detail, ok = check(), True
            except Exception as exc:
                detail, ok = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, False
                failing.append(name)
            checks[name] = {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}
        if not request.user.is_staff:
            # Exception texts can name hosts and users: the failing part is enough for others.
            for name in failing:
                checks[name]["detail"] = "failing"
        body = {"status": "failing" if failing else "ok", "checks": checks}
        if failing:
            body["error"] = "failing: " + ", ".join(f"{name} ({checks[name]['detail']})" for name in failing)
        return Response(body, status=503 if failing else 200)
