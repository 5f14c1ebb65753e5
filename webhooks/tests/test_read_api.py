"""GET /api/webhooks and GET /api/webhooks/<id>: staff only, by session or token."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def test_staff_lists_receipts_newest_first(api, staff, make_receipt):
    older = make_receipt(received_at=timezone.now() - timedelta(hours=1))
    newer = make_receipt()
    api.force_authenticate(staff)
    body = api.get("/api/webhooks").json()
    assert [row["id"] for row in body["results"]] == [str(newer.id), str(older.id)]
    assert set(body["results"][0]) >= {"id", "source", "event", "delivery_id", "payload", "headers", "verified",
                                       "received_at", "job_id"}  # fmt: skip


def test_staff_reads_one_receipt(api, staff, make_receipt):
    receipt = make_receipt()
    api.force_authenticate(staff)
    response = api.get(f"/api/webhooks/{receipt.id}")
    assert response.status_code == 200
    assert response.json()["payload"] == {"event": "order.paid"}
    assert response.json()["links"]["self"].endswith(f"/api/webhooks/{receipt.id}")


def test_staff_token_works_without_a_session(api, staff, make_receipt):
    make_receipt()
    token = Token.objects.create(user=staff)
    response = api.get("/api/webhooks", headers={"Authorization": f"Token {token.key}"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("who", ["owner", "teammate", "stranger"])
def test_signed_in_users_who_are_not_staff_are_refused(api, who, request, make_receipt):
    receipt = make_receipt()
    api.force_authenticate(request.getfixturevalue(who))
    for path in ("/api/webhooks", f"/api/webhooks/{receipt.id}"):
        response = api.get(path)
        assert response.status_code == 403
        assert response.json()["error"] == "webhook receipts are for staff only"


def test_anonymous_is_refused(api, make_receipt):
    receipt = make_receipt()
    for path in ("/api/webhooks", f"/api/webhooks/{receipt.id}"):
        response = api.get(path)
        assert response.status_code in (401, 403)
        assert "sign in" in response.json()["error"]


@pytest.mark.parametrize("receipt_id", [str(uuid.uuid4()), "not-a-uuid", "1", "%20", "x" * 300])
def test_unknown_or_malformed_id_is_404(api, staff, receipt_id):
    api.force_authenticate(staff)
    response = api.get(f"/api/webhooks/{receipt_id}")
    assert response.status_code == 404
    assert "no webhook receipt" in response.json()["error"]


def test_filters_by_source_event_verified_and_time_range(api, staff, make_receipt):
    now = timezone.now()
    make_receipt(source="acme", event="order.paid", received_at=now - timedelta(days=2))
    make_receipt(source="acme", event="order.void", received_at=now - timedelta(hours=2))
    make_receipt(source="github", event="push", received_at=now)
    api.force_authenticate(staff)

    def count(query: str) -> int:
        response = api.get(f"/api/webhooks?{query}")
        assert response.status_code == 200, response.json()
        return len(response.json()["results"])

    assert count("source=acme") == 2
    assert count("event=push") == 1
    assert count("source=acme&event=order.void") == 1
    assert count("verified=true") == 3
    assert count("verified=false") == 0
    since = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    until = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert count(f"received_after={since}") == 2
    assert count(f"received_after={since}&received_before={until}") == 1


@pytest.mark.parametrize("query", ["verified=maybe", "received_after=yesterday", "cursor=abc", "cursor=cD05OTk5"])
def test_bad_filter_or_page_is_a_4xx_with_reason(api, staff, query):
    api.force_authenticate(staff)
    response = api.get(f"/api/webhooks?{query}")
    assert response.status_code in (400, 404)
    assert response.json()["error"]


def test_listing_is_paginated(api, staff, make_receipt):
    for _ in range(25):
        make_receipt()
    api.force_authenticate(staff)
    body = api.get("/api/webhooks").json()
    assert len(body["results"]) == 20 and "count" not in body
    assert len(api.get(body["next"]).json()["results"]) == 5


def test_browsable_api_renders_the_list_for_staff(client, staff, make_receipt):
    make_receipt()
    client.force_login(staff)
    response = client.get("/api/webhooks", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"order.paid" in response.content
