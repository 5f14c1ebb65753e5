from datetime import datetime

import pytest


def test_api_root_names_the_api_and_links(api):
    response = api.get("/api/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Bespin API"
    assert body["links"]["random_text"].endswith("/api/jobs/random-text")
    assert "random_text" in body["job_types"]


@pytest.mark.parametrize("path", ["/api/test", "/api/jobs/test"])
def test_liveness_endpoints_answer_message_and_timestamp(api, path):
    response = api.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["message"]
    datetime.fromisoformat(body["timestamp"])


def test_browsable_api_renders_html_for_a_browser(api):
    response = api.get("/api/jobs/test", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"Bespin job service is running" in response.content


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}
