"""Health, in three depths, each for its reader:

- `GET /api/health/live`, liveness: the process serves requests. Checks nothing else and
  costs no I/O, so an orchestrator restarts only a server that is stuck, never every server
  because PostgreSQL or Redis is away.
- `GET /api/health/ready`, readiness: PostgreSQL and Redis answer (a `SELECT 1` and a
  `PING`, one round trip each). A server that cannot reach them is taken out of the load
  balancer's rotation until it can.
- `GET /api/health`, the operator's: the same, plus the channel layer (a publish through it)
  and live workers (one read of the heartbeats' sorted set). 503 when no worker is alive,
  which is a fault to page on, not a reason to restart a server.
"""

import time

from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bespin.lib.redis import counters_client
from jobs import events, selectors


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_redis() -> str:
    # The short-timeout client: a Redis host gone silent (a machine lost, before Sentinel
    # promotes another) fails the check in a second, never holds a server thread for minutes.
    counters_client().ping()
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
READY = ("database", "redis")


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField(help_text="what it found; for staff, why it failed")
    ms = serializers.FloatField(min_value=0, help_text="how long the check took")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "failing"])
    checks = serializers.DictField(child=CheckSerializer(), help_text=f"one per part: {', '.join(CHECKS)}")
    error = serializers.CharField(required=False, help_text="the failing parts, when one is")


def _checked(request, names) -> Response:
    checks, failing = {}, []
    for name in names:
        started = time.perf_counter()
        try:
            detail, ok = CHECKS[name](), True
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


class Health(APIView):
    """Database, Redis, channel layer and live workers; 503 naming the failing part."""

    @extend_schema(
        operation_id="health",
        responses={200: HealthSerializer, 503: OpenApiResponse(HealthSerializer, "a part is failing")},
    )
    def get(self, request):
        return _checked(request, CHECKS)


class Ready(APIView):
    """Readiness: PostgreSQL and Redis answer; 503 naming the one that does not."""

    @extend_schema(
        operation_id="health_ready",
        responses={200: HealthSerializer, 503: OpenApiResponse(HealthSerializer, "PostgreSQL or Redis is failing")},
    )
    def get(self, request):
        return _checked(request, READY)


class LiveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])


class Live(APIView):
    """Liveness: this process answers. Nothing else is checked."""

    # No session or token is looked up: the answer is the same for everyone.
    authentication_classes = []
    permission_classes = []

    @extend_schema(operation_id="health_live", responses={200: LiveSerializer}, auth=[])
    def get(self, request):
        return Response({"status": "ok"})
