"""GET /api/jobs/<id>/callbacks: every attempt, oldest first, for the job's owner and staff."""

import pytest

from callbacks import sender
from callbacks.tests.conftest import end_job
from jobs.services import creation

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_job(signer, receiver):
    owner, secret = signer
    hooks = receiver("--fail-first", "1", secrets=[secret])
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=hooks.url())
    end_job(job)
    sender.deliver_due()
    sender.deliver_due()
    return job


def test_the_owner_sees_every_attempt_oldest_first(api, sent_job, owner):
    api.force_authenticate(owner)
    response = api.get(f"/api/jobs/{sent_job.id}/callbacks")
    assert response.status_code == 200
    body = response.json()
    assert [(a["status_code"], a["error"], a["response"]) for a in body["attempts"]] == [
        (500, "answered 500", "attempt 1: 500"),
        (204, "", ""),
    ]
    assert set(body["attempts"][0]) >= {"at", "status_code", "duration_ms", "response", "error"}
    assert body["attempts"][0]["at"] <= body["attempts"][1]["at"]
    (delivery,) = body["deliveries"]
    assert (delivery["state"], delivery["attempts"], delivery["job_status"]) == ("delivered", 2, "completed")
    assert body["callback_url"] == sent_job.callback_url


def test_staff_see_them_too(api, sent_job, staff):
    api.force_authenticate(staff)
    assert len(api.get(f"/api/jobs/{sent_job.id}/callbacks").json()["attempts"]) == 2


@pytest.mark.parametrize("who", ["stranger", "anonymous"])
def test_anyone_else_gets_404_even_with_the_job_id(api, sent_job, stranger, who):
    if who == "stranger":
        api.force_authenticate(stranger)
    assert api.get(f"/api/jobs/{sent_job.id}").status_code == 200  # the job itself is readable by id
    response = api.get(f"/api/jobs/{sent_job.id}/callbacks")
    assert response.status_code == 404
    assert "only its owner and staff" in response.json()["error"]


def test_an_unknown_job_is_404(api, owner):
    api.force_authenticate(owner)
    assert api.get("/api/jobs/0b7e6a4e-1111-4222-8333-944455556666/callbacks").status_code == 404


def test_a_job_that_has_not_ended_has_no_attempts_yet(api, signer):
    owner, _ = signer
    job = creation.create_job(kind="random_text", params={}, owner=owner, callback_url="https://hooks.example.com/")
    api.force_authenticate(owner)
    assert api.get(f"/api/jobs/{job.id}/callbacks").json() == {
        "callback_url": "https://hooks.example.com/", "deliveries": [], "attempts": []
    }  # fmt: skip
