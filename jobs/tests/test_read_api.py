import uuid

import pytest

from jobs.models import JobStatus
from jobs.services import creation

pytestmark = pytest.mark.django_db


def test_job_detail_by_id_for_anyone(api, owner):
    job = creation.create_job(kind="random_text", params={"length": 3}, owner=owner)
    response = api.get(f"/api/jobs/{job.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(job.id)
    assert set(body) >= {"id", "type", "status", "progress", "params", "result", "error", "created_at",
                         "started_at", "finished_at", "links"}  # fmt: skip


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "1", "%20", "x" * 300])
def test_unknown_or_malformed_job_id_is_404(api, job_id):
    response = api.get(f"/api/jobs/{job_id}")
    assert response.status_code == 404
    assert "no job" in response.json()["error"]


def test_listing_needs_a_signed_in_user(api):
    response = api.get("/api/jobs")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "sign in" in response.json()["error"]


def test_listing_shows_own_jobs_newest_first(api, owner, stranger):
    first = creation.create_job(kind="random_text", params={}, owner=owner)
    second = creation.create_job(kind="sleep", params={"seconds": 1}, owner=owner)
    creation.create_job(kind="random_text", params={}, owner=stranger)
    api.force_authenticate(owner)
    body = api.get("/api/jobs").json()
    assert [row["id"] for row in body["results"]] == [str(second.id), str(first.id)]
    assert body["next"] is body["previous"] is None


def test_stranger_does_not_see_others_jobs(api, owner, stranger):
    creation.create_job(kind="random_text", params={}, owner=owner)
    api.force_authenticate(stranger)
    assert len(api.get("/api/jobs").json()["results"]) == 0


def test_staff_lists_every_job(api, owner, stranger, staff):
    creation.create_job(kind="random_text", params={}, owner=owner)
    creation.create_job(kind="random_text", params={}, owner=stranger)
    creation.create_job(kind="random_text", params={})
    api.force_authenticate(staff)
    assert len(api.get("/api/jobs").json()["results"]) == 3


def test_listing_filters_by_status_and_type(api, owner):
    creation.create_job(kind="sleep", params={"seconds": 0}, owner=owner)
    creation.create_job(kind="random_text", params={}, owner=owner)
    api.force_authenticate(owner)
    assert len(api.get("/api/jobs?type=sleep").json()["results"]) == 1
    assert len(api.get(f"/api/jobs?status={JobStatus.PENDING}").json()["results"]) == 2
    assert len(api.get(f"/api/jobs?status={JobStatus.COMPLETED}").json()["results"]) == 0


@pytest.mark.parametrize("query", ["status=done", "type=nope", "cursor=abc", "cursor=cD05OTk5"])
def test_bad_list_filter_or_page_is_a_4xx_with_reason(api, owner, query):
    api.force_authenticate(owner)
    response = api.get(f"/api/jobs?{query}")
    assert response.status_code in (400, 404)
    assert response.json()["error"]


def test_listing_is_paged_by_cursor_newest_first(api, owner):
    created = [str(creation.create_job(kind="random_text", params={}, owner=owner).id) for _ in range(25)]
    api.force_authenticate(owner)
    first = api.get("/api/jobs").json()
    assert len(first["results"]) == 20 and first["previous"] is None and "count" not in first
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 5 and second["next"] is None
    assert [row["id"] for row in first["results"] + second["results"]] == created[::-1]
    assert [row["id"] for row in api.get(second["previous"]).json()["results"]] == created[::-1][:20]


def test_token_authentication_lists_own_jobs(api, owner):
    from rest_framework.authtoken.models import Token

    creation.create_job(kind="random_text", params={}, owner=owner)
    token = Token.objects.create(user=owner)
    response = api.get("/api/jobs", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert len(response.json()["results"]) == 1
