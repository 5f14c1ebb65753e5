"""A WebSocket's URL asked over plain HTTP (a browser's address bar, curl) answers 426
Upgrade Required, saying how to connect; another method than GET is a 405, as anywhere."""

import pytest
from django.test import Client


@pytest.mark.parametrize("path", ["/api/ws/jobs", "/api/ws", "/api/ws/jobs/"])
def test_a_plain_get_is_426_with_upgrade_websocket(client, path):
    response = client.get(path, {"job_id": "1f0c0000-0000-4000-8000-000000000000"})
    assert response.status_code == 426
    assert response["Upgrade"] == "websocket"
    assert "WebSocket" in response.json()["error"]


def test_a_post_is_405_not_a_csrf_refusal():
    response = Client(enforce_csrf_checks=True).post("/api/ws/jobs")
    assert response.status_code == 405
    assert "GET" in response["Allow"]
