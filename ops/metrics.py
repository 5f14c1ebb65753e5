"""`GET /metrics`: Prometheus metrics, made by prometheus_client from a collector that reads
them at scrape time, so that every server answers the same whatever process did the work.

Counters come from tables and Redis hashes that only grow (jobs.models.JobTally, the webhooks
app's counters), so pruning jobs or receipts never makes one go down. Each scrape costs a
fixed handful of small queries, however many jobs the table holds.

They reveal job and webhook volumes, so they are for the scraper only: it sends
`Authorization: Bearer <BESPIN_METRICS_TOKEN>`; without a token configured they are not served.
"""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from bespin.lib.schema import ERROR
from jobs import selectors
from jobs.models import DURATION_BUCKETS, EVERYONE
from webhooks import selectors as webhook_selectors


class BespinCollector:
    def collect(self):
        yield from self.jobs()
        yield from self.queue()
        yield from self.webhooks()

    def jobs(self):
        created = CounterMetricFamily("bespin_jobs_created", "Jobs created, by kind.", labels=["kind"])
        finished = CounterMetricFamily(
            "bespin_jobs_finished", "Attempts that ended, by kind and final status.", labels=["kind", "status"]
        )
        duration = HistogramMetricFamily(
            "bespin_job_duration_seconds",
            "Run time of the attempts that ended after starting, by kind.",
            labels=["kind"],
        )
        for kind, tally in sorted(selectors.job_tallies().items()):
            created.add_metric([kind], tally.created)
            for status, attempts in sorted(tally.ended.items()):
                finished.add_metric([kind, status], attempts)
            cumulative, buckets = 0, []
            for bound, count in zip([*map(str, DURATION_BUCKETS), "+Inf"], tally.buckets, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            duration.add_metric([kind], buckets, sum_value=tally.seconds)
        current = GaugeMetricFamily("bespin_jobs", "Jobs by current status.", labels=["status"])
        for status, count in selectors.counts_by_status(owner_id=EVERYONE).items():
            current.add_metric([status], count)
        yield from (created, finished, duration, current)

    def queue(self):
        yield GaugeMetricFamily("bespin_queue_depth", "Jobs waiting in the queue.", value=selectors.queue_depth())
        yield GaugeMetricFamily("bespin_workers", "Workers with a live heartbeat.", value=selectors.live_worker_count())

    def webhooks(self):
        stored = CounterMetricFamily(
            "bespin_webhook_receipts", "Verified deliveries stored, by source.", labels=["source"]
        )
        for source, count in sorted(webhook_selectors.stored_counts().items()):
            stored.add_metric([source], count)
        rejected = CounterMetricFamily(
            "bespin_webhook_rejections", "Deliveries refused, by source and reason.", labels=["source", "reason"]
        )
        for source, reasons in sorted(webhook_selectors.rejection_counts_by_source().items()):
            for reason, count in sorted(reasons.items()):
                rejected.add_metric([source, reason], count)
        yield from (stored, rejected)


registry = CollectorRegistry(auto_describe=False)
registry.register(BespinCollector())


@require_safe
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        # Plain text, as the scraper's other answers: a scraper shows it as the reason.
        return HttpResponse("metrics are off; set BESPIN_METRICS_TOKEN\n", status=404, content_type="text/plain")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = HttpResponse("metrics need Authorization: Bearer <token>\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # In constant time, so that the answer's timing does not tell how much of a guess was right.
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return HttpResponse("wrong metrics token\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def metrics_operation() -> dict:
    """`GET /metrics` in the OpenAPI schema (postprocess adds it: no DRF view declares it)."""
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "operationId": "metrics",
        "summary": "Prometheus metrics",
        "description": "Jobs created and finished, run times, jobs by status, queue depth, live workers, webhook "
        "receipts and rejections, in Prometheus' text format. Only with `Authorization: Bearer "
        "<BESPIN_METRICS_TOKEN>`; with no token set, not served (404).",
        "tags": ["metrics"],
        "security": [{"metricsToken": []}],
        "responses": {
            "200": {"description": "the metrics", "content": text},
            "401": {
                "description": "no `Authorization: Bearer …` header",
                "content": text,
                "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
            },
            "403": {"description": "another token", "content": text},
            "404": {"description": "no BESPIN_METRICS_TOKEN is set", "content": text},
            "503": {
                "description": "the database or Redis is unavailable",
                "content": {"application/json": {"schema": ERROR}},
            },
        },
    }


def postprocess(result, generator, request, public):
    """drf-spectacular's hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): `GET /metrics`."""
    result["paths"]["/metrics"] = {"get": metrics_operation()}
    result["components"].setdefault("securitySchemes", {})["metricsToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "BESPIN_METRICS_TOKEN",
    }
    return result
