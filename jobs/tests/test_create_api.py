import pytest
from django.test import override_settings

from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db


def test_random_text_with_query_length_creates_pending_job(api, queue):
    response = api.post("/api/jobs/random-text?length=50")
    assert response.status_code == 201
    body = response.json()
    job = Job.objects.get(id=body["id"])
    assert (job.type, job.status, job.params) == ("random_text", JobStatus.PENDING, {"length": 50})
    assert body["status"] == "pending"
    assert response["Location"].endswith(f"/api/jobs/{job.id}")
    assert body["links"]["websocket"].endswith(f"/api/ws/jobs?job_id={job.id}")


def test_random_text_is_enqueued_after_commit(api, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = api.post("/api/jobs/random-text?length=5").json()["id"]
    assert queue.job_ids == [f"{job_id}_1"]


def test_random_text_with_json_body_length(api):
    response = api.post("/api/jobs/random-text", {"length": 7}, format="json")
    assert response.status_code == 201
    assert response.json()["params"] == {"length": 7}


def test_random_text_defaults_to_100_words(api):
    response = api.post("/api/jobs/random-text")
    assert response.status_code == 201
    assert response.json()["params"] == {"length": 100}


@pytest.mark.parametrize("length", ["0", "-5", "abc", "1.5", "1000000000", "", "1e3", "%00"])
def test_bad_query_length_is_400_with_reason(api, length):
    response = api.post(f"/api/jobs/random-text?length={length}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("length: ")
    assert "length" in body["fields"]
    assert Job.objects.count() == 0


@pytest.mark.parametrize("length", [0, -5, "abc", 1.5, 1000000000, None, True, [3], {"n": 1}])
def test_bad_body_length_is_400_with_reason(api, length):
    response = api.post("/api/jobs/random-text", {"length": length}, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("length: ")
    assert Job.objects.count() == 0


@pytest.mark.parametrize("body", ['{"length": ', "[1, 2]", '"text"', "null", "\xff"])
def test_malformed_or_non_object_body_is_400(api, body):
    response = api.generic("POST", "/api/jobs/random-text", body.encode("utf-8", "surrogateescape"), "application/json")
    assert response.status_code == 400
    assert response.json()["error"]
    assert Job.objects.count() == 0


def test_form_encoded_body_is_415_with_reason(api):
    response = api.post("/api/jobs/random-text", {"length": "5"})
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["error"]


def test_create_job_of_any_kind(api):
    response = api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 0.5}}, format="json")
    assert response.status_code == 201
    assert response.json()["type"] == "sleep"
    assert Job.objects.get().params == {"seconds": 0.5}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "mine-bitcoin"}, "type: "),
        ({}, "type: "),
        ({"type": "sleep", "params": {}}, "params: "),
        ({"type": "sleep", "params": {"seconds": -1}}, "params: "),
        ({"type": "sleep", "params": {"seconds": "nan"}}, "params: "),
        ({"type": "sleep", "params": {"seconds": 10**9}}, "params: "),
        ({"type": "sleep", "params": [1]}, "params: "),
        ({"type": "random_text", "params": {"length": "many"}}, "params: "),
    ],
)
def test_bad_type_or_params_is_400_with_reason(api, body, reason):
    response = api.post("/api/jobs", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith(reason)
    assert Job.objects.count() == 0


def test_signed_in_creator_owns_the_job(api, owner):
    api.force_authenticate(owner)
    job_id = api.post("/api/jobs/random-text?length=3").json()["id"]
    assert Job.objects.get(id=job_id).owner == owner


@override_settings(THROTTLE_ANON="2/min")
def test_a_forwarded_for_header_does_not_escape_the_throttle(api):
    for n in range(2):
        assert api.post("/api/jobs/random-text", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code == 201
    assert api.post("/api/jobs/random-text", HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


@override_settings(THROTTLE_ANON="2/min")
def test_anonymous_creation_is_throttled_with_retry_after(api, owner):
    assert api.post("/api/jobs/random-text").status_code == 201
    assert api.post("/api/jobs", {"type": "sleep", "params": {"seconds": 1}}, format="json").status_code == 201
    response = api.post("/api/jobs/random-text")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["error"].lower()
    api.force_authenticate(owner)
    assert api.post("/api/jobs/random-text").status_code == 201
