"""What /api/schema/ says, read as a client reads it: a body per kind, built from the kinds
(a kind registered now is in it), lists as the pages they are, the links from a created job,
and one error shape. test_api_contract.py holds the server to all of it."""

import re

import pytest

from bespin.testing import tasks

pytestmark = pytest.mark.django_db


def _schema(api) -> dict:
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_a_task_has_its_own_body_with_its_parameters_and_their_bounds(api, register_task):
    register_task(tasks.report, "report")
    schemas = _schema(api)["components"]["schemas"]
    create = schemas["JobCreateRequest"]
    assert create["discriminator"]["propertyName"] == "type"
    offered = set(create["discriminator"]["mapping"])
    assert {"random_text", "report", "sleep", "examples.reports.tasks.send_report"} <= offered
    assert "examples.reports.tasks.rebuild_index" not in offered  # code only: not offered
    report = schemas["ReportJobCreateRequest"]
    assert report["properties"]["type"]["enum"] == ["report"]
    assert {"type", "params"} <= set(report["required"])
    pages = schemas["ReportParamsRequest"]["properties"]["pages"]
    assert (pages["type"], pages["minimum"], pages["maximum"]) == ("integer", 1, 50)
    # A misspelt parameter is refused, and the schema says so.
    assert schemas["ReportParamsRequest"]["additionalProperties"] is False
    # A task whose every parameter has a default may leave `params` out.
    assert "params" not in schemas["RandomTextJobCreateRequest"].get("required", [])


def test_lists_are_described_as_the_pages_they_are(api, owner):
    api.force_authenticate(owner)
    schema = _schema(api)
    for path, component in (("/api/jobs", "PaginatedJobList"), ("/api/schedules", "PaginatedScheduleList")):
        answer = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": f"#/components/schemas/{component}"}
        page = schema["components"]["schemas"][component]
        assert set(page["required"]) == set(api.get(path).json()) == {"next", "previous", "results"}
        assert any(p["name"] == "cursor" for p in schema["paths"][path]["get"]["parameters"])


def test_a_created_job_links_to_what_can_be_done_with_it(api):
    schema = _schema(api)
    created = schema["paths"]["/api/jobs"]["post"]["responses"]["201"]["links"]
    assert {name: link["operationId"] for name, link in created.items()} == {
        "read": "jobs_retrieve", "cancel": "jobs_cancel", "retry": "jobs_retry", "stream": "jobs_stream",
        "callbacks": "jobs_callbacks",
    }  # fmt: skip
    operations = {op["operationId"] for item in schema["paths"].values() for op in item.values()}
    assert {link["operationId"] for link in created.values()} <= operations


def test_every_error_an_operation_answers_is_described(api):
    schema = _schema(api)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"401", "503"} <= statuses or path == "/api/ws/jobs", (method, path)
            # Deliveries are verified before they are read, whatever they say they are.
            if "requestBody" in operation and operation["operationId"] != "webhooks_deliver":
                assert {"400", "413", "415"} <= statuses, (method, path)
            for status, answer in operation["responses"].items():
                if status >= "400" and path != "/metrics":
                    assert "application/json" in answer["content"], (method, path, status)


def test_openapi_schema_documents_every_job_endpoint_and_its_errors(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in ["/api/", "/api/test", "/api/jobs", "/api/jobs/random-text", "/api/jobs/{job_id}",
                 "/api/jobs/{job_id}/cancel", "/api/jobs/{job_id}/retry", "/api/health"]:  # fmt: skip
        assert path in paths, path
    assert set(paths["/api/jobs/random-text"]["post"]["responses"]) >= {"200", "201", "400", "422", "429"}
    assert "409" in paths["/api/jobs/{job_id}/cancel"]["post"]["responses"]
    assert "404" in paths["/api/jobs/{job_id}"]["get"]["responses"]


def test_docs_page_loads_its_files_from_this_server(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    # Every file the page loads is this server's (the page also holds a random CSRF token,
    # so a search for "cdn" in it would fail now and then).
    loaded = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in loaded), loaded
    assert all(url.startswith("/static/") for url in loaded), loaded
    assert not re.search(r"(?:https?:)?//[\w.-]+\.\w+/", html)
