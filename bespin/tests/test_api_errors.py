"""Errors a new user meets first: an unknown path under /api/ answers the API's JSON 404 with
DEBUG on as well as off (Django would answer its HTML page under DEBUG), a path that only
lacks its slash is redirected, and an unknown job type names the types there are."""

import pytest


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_path_under_the_api_is_a_json_404(client, settings, debug, method):
    settings.DEBUG = debug
    response = getattr(client, method)("/api/no/such/thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "not found"}


@pytest.mark.django_db
def test_a_path_missing_only_its_slash_is_redirected_and_known_paths_still_answer(client, settings):
    settings.DEBUG = True
    response = client.get("/api/schema?format=json")
    assert (response.status_code, response["Location"]) == (301, "/api/schema/?format=json")
    assert client.get("/api/health").status_code in (200, 503)
    assert client.get("/api/test").json()["message"]


@pytest.mark.django_db
def test_an_unknown_type_lists_the_types_offered(client):
    response = client.post("/api/jobs", {"type": "resize_image", "params": {}}, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("type: unknown job type 'resize_image'; the types offered")
    assert "random_text" in error and "sleep" in error
