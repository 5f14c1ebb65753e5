"""JSON nested past bespin.lib.jsonbody.MAX_DEPTH is a 400 with a reason wherever a body
comes in, on a real Daphne: `[` × 100,000 (200 KB) exhausts Python's parser, and a body
nested a little less deep would exhaust the stack later, wherever it is walked. The server
goes on answering, and a body just within the bound is read as usual."""

import hashlib
import hmac
import json
import urllib.error
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from bespin.lib.jsonbody import MAX_DEPTH
from bespin.testing.processes import Processes
from jobs.models import Job
from schedules.models import Schedule
from webhooks.models import WebhookReceipt

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "acme-secret"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# Each way in, and where in its body the nested value sits.
BODIES = {
    "/api/jobs": lambda deep: '{"type": "sleep", "params": {"seconds": ' + deep + "}}",
    "/api/jobs/batch": lambda deep: '{"jobs": [{"type": "sleep", "params": {"seconds": ' + deep + "}}]}",
    "/api/schedules": lambda deep: '{"name": "n", "cron": "* * * * *", "type": "sleep", "params": ' + deep + "}",
    "/api/jobs/random-text": lambda deep: deep,
    "/api/webhooks/acme": lambda deep: '{"a": ' + deep + "}",
}


@pytest.fixture
def server(tmp_path, owner):
    processes = Processes(tmp_path, ACME_WEBHOOK_SECRET=SECRET, LOG_LEVEL="WARNING")
    try:
        yield processes.web(), {"Authorization": f"Token {Token.objects.create(user=owner).key}"}
    finally:
        processes.stop_all()


def _post(base: str, path: str, body: str, headers: dict) -> tuple[int, dict]:
    data = body.encode()
    signature = hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://{base}{path}", data=data, method="POST",
        headers={"Content-Type": "application/json", "X-Webhook-Signature": signature, **headers},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.parametrize("path", list(BODIES))
def test_deep_json_is_a_400_with_a_reason_and_the_server_goes_on(server, path):
    base, headers = server
    for depth in (100_000, 2_000, 900, MAX_DEPTH + 1):
        status, answer = _post(base, path, BODIES[path](_nested(depth)), headers)
        assert status == 400, (depth, answer)
        assert f"nested deeper than {MAX_DEPTH} levels" in json.dumps(answer), (depth, answer)
    assert not Job.objects.exists() and not Schedule.objects.exists() and not WebhookReceipt.objects.exists()
    # Within the bound: read as usual (a 400 for the value's type, not its depth; a receipt).
    status, answer = _post(base, path, BODIES[path](_nested(MAX_DEPTH - 4)), headers)
    assert "nested deeper" not in json.dumps(answer), answer
    assert status in (400, 201), answer
