"""Operating Bespin: health and metrics."""

import json
import urllib.error
import urllib.request

import pytest
from django.test import override_settings

from bespin.testing.processes import Processes, free_port
from jobs.execution import heartbeats
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)


def test_health_is_503_naming_workers_when_none_is_alive(api):
    response = api.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["error"].startswith("failing: workers (")
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "redis": True, "channel_layer": True, "workers": False,
    }  # fmt: skip


def test_health_is_200_with_a_live_worker(api, redis_conn):
    heartbeats.beat("w1")
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json()["checks"]["workers"]["detail"] == "1 live"


def test_with_no_worker_alive_the_server_is_live_and_ready_and_only_the_full_health_fails(api):
    # A probe on /api/health would restart every healthy server while the workers are away.
    assert api.get("/api/health").status_code == 503
    assert (api.get("/api/health/live").status_code, api.get("/api/health/live").json()) == (200, {"status": "ok"})
    ready = api.get("/api/health/ready")
    assert ready.status_code == 200
    assert {name: check["ok"] for name, check in ready.json()["checks"].items()} == {"database": True, "redis": True}


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=20) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_with_redis_down_a_real_server_is_live_but_not_ready_and_health_names_redis(tmp_path):
    port = free_port()  # nothing listens there
    processes = Processes(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    try:
        base = processes.web()
        health, ready, live = (_get(f"http://{base}/api/health{path}") for path in ("", "/ready", "/live"))
    finally:
        processes.stop_all()
    assert health[0] == 503
    assert "redis (" in health[1]["error"]
    assert health[1]["checks"]["database"]["ok"] is True
    assert health[1]["checks"]["redis"]["ok"] is False
    assert ready[0] == 503 and ready[1]["error"] == "failing: redis (failing)"
    assert live == (200, {"status": "ok"})


METRICS_TOKEN = "metrics-token-for-tests"


def scrape(api):
    return api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")


@override_settings(METRICS_TOKEN="")
def test_metrics_are_not_served_without_a_token_configured(api):
    assert api.get("/metrics").status_code == 404
    assert api.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@override_settings(METRICS_TOKEN=METRICS_TOKEN)
@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer  ", f"Token {METRICS_TOKEN}", f"Basic {METRICS_TOKEN}"]
)
def test_metrics_without_a_bearer_token_are_401_asking_for_one(api, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = api.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"bespin_" not in response.content


@override_settings(METRICS_TOKEN=METRICS_TOKEN)
@pytest.mark.parametrize("given", [METRICS_TOKEN[:-1], METRICS_TOKEN + "x", METRICS_TOKEN.upper(), "é" * 8])
def test_metrics_with_a_wrong_token_are_403(api, given):
    response = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {given}")
    assert response.status_code == 403
    assert b"bespin_" not in response.content


@override_settings(METRICS_TOKEN=METRICS_TOKEN)
def test_metrics_take_the_bearer_scheme_in_any_case(api):
    response = api.get("/metrics", HTTP_AUTHORIZATION=f"bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    assert b"bespin_queue_depth" in response.content


@override_settings(METRICS_TOKEN=METRICS_TOKEN)
def test_metrics_count_jobs_by_kind_and_status_with_a_histogram_of_run_times(api, run_worker):
    creation.create_job(kind="random_text", params={"length": 3})
    creation.create_job(kind="random_text", params={"length": 3})
    run_worker()
    creation.create_job(kind="sleep", params={"seconds": 1})
    response = scrape(api)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert 'bespin_jobs_created_total{kind="random_text"} 2.0' in text
    assert 'bespin_jobs_created_total{kind="sleep"} 1.0' in text
    assert 'bespin_jobs_finished_total{kind="random_text",status="completed"} 2.0' in text
    assert 'bespin_jobs{status="pending"} 1.0' in text
    assert "# TYPE bespin_job_duration_seconds histogram" in text
    assert 'bespin_job_duration_seconds_bucket{kind="random_text",le="+Inf"} 2.0' in text
    assert 'bespin_job_duration_seconds_count{kind="random_text"} 2.0' in text
    assert 'bespin_job_duration_seconds_sum{kind="random_text"} ' in text
    assert "bespin_queue_depth 1.0" in text


@override_settings(METRICS_TOKEN=METRICS_TOKEN)
def test_counters_never_go_down_when_jobs_are_deleted(api, run_worker):
    from jobs.models import Job

    creation.create_job(kind="random_text", params={"length": 3})
    run_worker()
    Job.objects.all().delete()
    text = scrape(api).content.decode()
    assert 'bespin_jobs_created_total{kind="random_text"} 1.0' in text
    assert 'bespin_jobs_finished_total{kind="random_text",status="completed"} 1.0' in text
    assert 'bespin_jobs{status="completed"} 0.0' in text


async def test_health_passes_while_this_server_holds_websockets_open(redis_conn):
    # The consumer's loop is the one that receives from the channel layer; the health check
    # must not try to receive from a second one.
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator
    from rest_framework.test import APIClient

    from bespin.asgi import application

    heartbeats.beat("w1")
    job = await database_sync_to_async(creation.create_job)(kind="random_text", params={})
    communicator = WebsocketCommunicator(application, f"/api/ws/jobs?job_id={job.id}")
    assert (await communicator.connect())[0]
    await communicator.receive_json_from(timeout=5)
    response = await database_sync_to_async(APIClient().get)("/api/health")
    assert response.status_code == 200, response.json()
    await communicator.disconnect()


def test_health_details_are_for_staff(api, staff):
    assert api.get("/api/health").json()["checks"]["workers"]["detail"] == "failing"
    api.force_authenticate(staff)
    assert api.get("/api/health").json()["checks"]["workers"]["detail"].startswith("RuntimeError: no live workers")


@override_settings(METRICS_TOKEN=METRICS_TOKEN)
def test_metrics_count_webhook_receipts_and_rejections_by_reason(api):
    import asyncio
    import hashlib
    import hmac

    from webhooks import sources
    from webhooks.models import WebhookReceipt
    from webhooks.tests.conftest import asgi_post

    source = sources.create_source(name="acme", scheme="bespin")
    sources.add_secret(source=source, secret="acme-secret")
    body = b'{"event": "ping"}'
    good = {"X-Webhook-Signature": hmac.new(b"acme-secret", body, hashlib.sha256).hexdigest()}
    assert asyncio.run(asgi_post("/api/webhooks/acme", [body], good))[0] == 201
    assert asyncio.run(asgi_post("/api/webhooks/acme", [body], {"X-Webhook-Signature": "0" * 64}))[0] == 401
    WebhookReceipt.objects.all().delete()  # pruned: the counter stays
    text = scrape(api).content.decode()
    assert 'bespin_webhook_receipts_total{source="acme"} 1.0' in text
    assert 'bespin_webhook_rejections_total{reason="bad_signature",source="acme"} 1.0' in text
