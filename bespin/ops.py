"""Operating Bespin: the health check and the Prometheus metrics."""

import time

import django_rq
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import events, selectors


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_redis() -> str:
    django_rq.get_connection().ping()
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

_health_response = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "failing"]),
        "checks": serializers.DictField(),
        "error": serializers.CharField(required=False),
    },
)


class Health(APIView):
    """Database, Redis, channel layer and live workers; 503 naming the failing part."""

    @extend_schema(responses={200: _health_response, 503: OpenApiResponse(_health_response, "a part is failing")})
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


def _line(name: str, value, **labels) -> str:
    if labels:
        rendered = ",".join(f'{key}="{_escape(str(val))}"' for key, val in sorted(labels.items()))
        return f"{name}{{{rendered}}} {value}"
    return f"{name} {value}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metrics(request):
    """Prometheus text format, computed at scrape time from PostgreSQL and Redis so that
    every server answers the same whatever process did the work. BESPIN_METRICS turns it on."""
    if not settings.METRICS_ENABLED:
        raise Http404("metrics are off; set BESPIN_METRICS=1")
    out = []
    stats = selectors.job_metrics()
    out += ["# HELP bespin_jobs_created_total Jobs created, by kind.", "# TYPE bespin_jobs_created_total counter"]
    out += [_line("bespin_jobs_created_total", n, kind=kind) for kind, n in stats.created.items()]
    # Read from each job's current row: a retried job leaves the final status it had, so
    # these can go down and are gauges, not counters.
    out += [
        "# HELP bespin_jobs_finished Jobs now in a final status, by kind and status.",
        "# TYPE bespin_jobs_finished gauge",
    ]
    out += [_line("bespin_jobs_finished", n, kind=k, status=s) for (k, s), n in stats.finished.items()]
    out += ["# HELP bespin_jobs Jobs by current status.", "# TYPE bespin_jobs gauge"]
    out += [_line("bespin_jobs", n, status=status) for status, n in stats.by_status.items()]
    out += [
        "# HELP bespin_job_duration_seconds_le Finished jobs whose run took at most `le` seconds, by kind.",
        "# TYPE bespin_job_duration_seconds_le gauge",
    ]
    for kind, histogram in stats.durations.items():
        for bound, count in histogram.buckets:
            out.append(_line("bespin_job_duration_seconds_le", count, kind=kind, le=bound))
    out += [
        "# HELP bespin_job_duration_seconds_total Run time of finished jobs added up, by kind.",
        "# TYPE bespin_job_duration_seconds_total gauge",
    ]
    out += [_line("bespin_job_duration_seconds_total", f"{h.total:.6f}", kind=k) for k, h in stats.durations.items()]
    out += ["# HELP bespin_queue_depth Jobs waiting in the queue.", "# TYPE bespin_queue_depth gauge"]
    out.append(_line("bespin_queue_depth", selectors.queue_depth()))
    out += ["# HELP bespin_workers Workers with a live heartbeat.", "# TYPE bespin_workers gauge"]
    out.append(_line("bespin_workers", selectors.live_worker_count()))
    out += _webhook_lines()
    return HttpResponse("\n".join(out) + "\n", content_type="text/plain; version=0.0.4; charset=utf-8")


def _webhook_lines() -> list[str]:
    from django.db.models import Count

    from webhooks import selectors as webhook_selectors
    from webhooks.models import WebhookReceipt

    # Stored receipts can be pruned, so they are a gauge; rejections are counted in Redis as
    # they happen and only grow.
    stored = WebhookReceipt.objects.order_by().values_list("source").annotate(n=Count("id"))
    lines = [
        "# HELP bespin_webhook_receipts Verified deliveries stored, by source.",
        "# TYPE bespin_webhook_receipts gauge",
    ]
    lines += [_line("bespin_webhook_receipts", n, source=source) for source, n in stored]
    lines += [
        "# HELP bespin_webhook_rejections_total Deliveries refused, by source and reason.",
        "# TYPE bespin_webhook_rejections_total counter",
    ]
    for source in webhook_selectors.source_names():
        for reason, n in sorted(webhook_selectors.rejection_counts(source).items()):
            lines.append(_line("bespin_webhook_rejections_total", n, source=source, reason=reason))
    return lines
