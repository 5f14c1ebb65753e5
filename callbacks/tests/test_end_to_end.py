"""The whole path with real processes: a job created over HTTP on Daphne with a signed-in
token, run by a worker, and its callback sent by that worker to a receiver process that
checks every signature with the Standard Webhooks reference library, fails the first two
attempts and accepts the third."""

import json
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from bespin.testing.processes import free_port, wait_for
from callbacks.models import CallbackDelivery, DeliveryState
from jobs.models import Job, JobStatus
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)


def _call(base: str, method: str, path: str, body=None, token: str = ""):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{base}{path}", data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, json.load(answer)


def test_a_callback_failed_twice_is_delivered_the_third_time_signed_and_equal_to_the_job(processes, receiver, owner):
    port = free_port()
    processes.env["BESPIN_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    base = processes.web(port)
    processes.worker()
    token = Token.objects.create(user=owner).key
    status, created = _call(base, "POST", "/api/me/callback-secret", token=token)
    assert status == 201
    hooks = receiver("--fail-first", "2", secrets=[created["secret"]])

    status, job = _call(base, "POST", "/api/jobs", {"type": "random_text", "params": {"length": 5},
                                                    "callback_url": hooks.url()}, token=token)  # fmt: skip
    assert status == 201 and job["callback_url"] == hooks.url()

    requests = hooks.wait_for_requests(3)
    assert [r["status"] for r in requests] == [500, 500, 204]
    assert all(r["verified_by"] == [0] for r in requests), "every attempt verifies with the reference library"
    assert len({r["headers"]["webhook-id"] for r in requests}) == 1
    _, resource = _call(base, "GET", f"/api/jobs/{job['id']}")
    assert json.loads(requests[-1]["body"]) == resource
    assert resource["status"] == "completed"

    def logged():
        _, log = _call(base, "GET", f"/api/jobs/{job['id']}/callbacks", token=token)
        return log if len(log["attempts"]) == 3 and log["deliveries"][0]["state"] == "delivered" else None

    log = wait_for(logged, 20, message="three attempts recorded, the last delivered")
    assert [a["status_code"] for a in log["attempts"]] == [500, 500, 204]
    assert all(a["duration_ms"] >= 0 for a in log["attempts"])
    assert [a["response"] for a in log["attempts"][:2]] == ["attempt 1: 500", "attempt 2: 500"]


def test_a_receiver_that_does_not_answer_does_not_hold_up_jobs(processes, receiver, signer):
    owner, secret = signer
    processes.env["BESPIN_CALLBACK_TIMEOUT"] = "60"  # the receiver holds the request all that time
    processes.worker()
    hooks = receiver("--hold-first", secrets=[secret])
    called = creation.create_job(kind="random_text", params={"length": 2}, owner=owner, callback_url=hooks.url())
    hooks.wait_for_requests(1)  # and held, unanswered
    plain = [creation.create_job(kind="random_text", params={"length": 2}) for _ in range(5)]
    wait_for(lambda: not Job.objects.filter(id__in=[j.id for j in plain]).exclude(status=JobStatus.COMPLETED).exists(),
             20, message="the jobs after it to complete")  # fmt: skip
    delivery = CallbackDelivery.objects.get(job=called)
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 0), "still waiting for its receiver"
