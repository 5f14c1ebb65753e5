"""Anonymous callers get a small, bounded slice: each kind's ceilings, a cap on unfinished
jobs, an atomic creation rate, or no creation at all; signed-in users get their own."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.test import APIClient

from bespin.testing import tasks
from bespin.testing.processes import Processes
from bespin.testing.threads import at_once
from jobs.models import Job
from jobs.services import lifecycle

pytestmark = pytest.mark.django_db


def _post(client, body: dict, address: str = "203.0.113.7"):
    return client.post("/api/jobs", body, format="json", REMOTE_ADDR=address)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "sleep", "params": {"seconds": 3600}}, "seconds"),
        ({"type": "random_text", "params": {"length": 10_001}}, "length"),
    ],
)
def test_past_a_kinds_anonymous_ceiling_is_400_saying_to_sign_in(api, owner, body, field):
    response = _post(api, body)
    assert response.status_code == 400
    assert "sign in" in response.json()["error"]
    assert field in response.json()["fields"]["params"]
    api.force_authenticate(owner)
    assert _post(api, body).status_code == 201


def test_the_random_text_endpoint_applies_the_ceiling_too(api):
    response = api.post("/api/jobs/random-text?length=10001")
    assert response.status_code == 400
    assert "sign in" in response.json()["error"]
    assert api.post("/api/jobs/random-text?length=10000").status_code == 201


def test_anonymous_creation_can_be_turned_off(api, owner, settings):
    settings.ANON_CREATE = False
    response = _post(api, {"type": "random_text", "params": {}})
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]
    assert not Job.objects.exists()
    api.force_authenticate(owner)
    assert _post(api, {"type": "random_text", "params": {}}).status_code == 201


def test_an_address_with_too_many_unfinished_jobs_gets_429_until_one_finishes(api, settings):
    settings.ANON_MAX_UNFINISHED = 3
    body = {"type": "sleep", "params": {"seconds": 1}}
    created = [_post(api, body) for _ in range(3)]
    assert [r.status_code for r in created] == [201, 201, 201]
    refused = _post(api, body)
    assert refused.status_code == 429
    assert "3 jobs pending or running" in refused.json()["error"] and refused["Retry-After"]
    assert _post(api, body, address="198.51.100.1").status_code == 201  # another address, its own cap
    lifecycle.cancel_job(job=Job.objects.get(id=created[0].json()["id"]))
    assert _post(api, body).status_code == 201


def test_a_signed_in_user_has_a_cap_of_their_own(api, owner, settings):
    settings.ANON_MAX_UNFINISHED = 1
    settings.USER_MAX_UNFINISHED = 2
    api.force_authenticate(owner)
    body = {"type": "sleep", "params": {"seconds": 1}}
    assert [_post(api, body).status_code for _ in range(3)] == [201, 201, 429]


def test_an_idempotency_key_replayed_at_the_cap_still_answers_the_first_job(api, settings):
    settings.ANON_MAX_UNFINISHED = 1
    body = {"type": "sleep", "params": {"seconds": 1}}
    first = api.post("/api/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert api.post("/api/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 429


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_never_pass_the_cap(settings):
    settings.ANON_MAX_UNFINISHED = 5
    statuses = at_once(lambda: _post(APIClient(), {"type": "sleep", "params": {"seconds": 1}}).status_code, 20)
    assert sorted(statuses) == [201] * 5 + [429] * 15
    assert Job.objects.count() == 5


def _concurrent_posts(base: str, count: int, headers: dict | None = None) -> list[int]:
    body = json.dumps({"type": "random_text", "params": {"length": 1}}).encode()

    def post(_) -> int:
        request = urllib.request.Request(
            f"http://{base}/api/jobs", data=body, method="POST",
            headers={"Content-Type": "application/json", **(headers or {})},
        )  # fmt: skip
        try:
            return urllib.request.urlopen(request, timeout=30).status
        except urllib.error.HTTPError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=50) as pool:
        return list(pool.map(post, range(count)))


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_200_concurrent_posts_to_a_real_server_creates_at_most_the_rate(tmp_path, owner):
    from rest_framework.authtoken.models import Token

    processes = Processes(tmp_path, BESPIN_THROTTLE_ANON="50/min", BESPIN_THROTTLE_USER="70/min",
                          BESPIN_ANON_MAX_UNFINISHED="0")  # fmt: skip
    try:
        base = processes.web()
        anonymous = _concurrent_posts(base, 200)
        token = Token.objects.create(user=owner).key
        signed_in = _concurrent_posts(base, 100, {"Authorization": f"Token {token}"})
    finally:
        processes.stop_all()
    assert anonymous.count(201) == 50 and set(anonymous) == {201, 429}
    assert signed_in.count(201) == 70 and set(signed_in) == {201, 429}
    assert Job.objects.filter(owner=None).count() == 50
    assert Job.objects.filter(owner=owner).count() == 70


@pytest.mark.django_db(transaction=True)
def test_ipv6_clients_are_counted_by_their_64_on_a_real_server(tmp_path):
    # Behind a proxy that reports each client: one host walking its /64 is still one client.
    processes = Processes(tmp_path, BESPIN_NUM_PROXIES="1", BESPIN_ANON_MAX_UNFINISHED="2")
    try:
        base = processes.web()
        statuses = [
            _post_from(base, address)
            for address in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:3::1")
        ]
    finally:
        processes.stop_all()
    assert statuses == [201, 201, 429, 201]
    clients = sorted(Job.objects.values_list("client", flat=True))
    assert clients == ["ip:2001:db8:1:2::/64"] * 2 + ["ip:2001:db8:1:3::/64"]


def _post_from(base: str, address: str) -> int:
    body = json.dumps({"type": "sleep", "params": {"seconds": 1}}).encode()
    request = urllib.request.Request(
        f"http://{base}/api/jobs", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Forwarded-For": address},
    )  # fmt: skip
    try:
        return urllib.request.urlopen(request, timeout=30).status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_prefix_can_be_set(api, settings):
    settings.IPV6_PREFIX = 128
    settings.ANON_MAX_UNFINISHED = 1
    body = {"type": "sleep", "params": {"seconds": 1}}
    assert [_post(api, body, address).status_code for address in ("2001:db8::1", "2001:db8::2", "2001:db8::1")] == [
        201, 201, 429
    ]  # fmt: skip


def test_an_anonymous_caller_asking_for_high_priority_gets_400(api, owner):
    body = {"type": "random_text", "params": {}, "priority": "high"}
    response = _post(api, body)
    assert response.status_code == 400
    assert response.json()["fields"] == {"priority": ["high priority is for signed-in callers"]}
    batch = api.post("/api/jobs/batch", {"jobs": [body]}, format="json")
    assert batch.status_code == 400 and "high priority" in batch.content.decode()
    assert not Job.objects.exists()
    api.force_authenticate(owner)
    assert _post(api, body).json()["priority"] == "high"


def test_a_task_whose_own_priority_is_high_runs_anonymous_jobs_at_default(api, owner, register_task):
    register_task(tasks.report, "report", priority=10, anonymous=True)  # above 0: high
    body = {"type": "report", "params": {"pages": 1}}
    assert _post(api, body).json()["priority"] == "default"
    assert _post(api, {**body, "priority": "low"}).json()["priority"] == "low"
    api.force_authenticate(owner)
    assert _post(api, body).json()["priority"] == "high"
