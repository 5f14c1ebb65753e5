"""Events start jobs: a matching verified delivery creates the trigger's job in the same
transaction as the receipt, and the answer carries its id."""

import json
import random
import re
import urllib.request

import pytest
from rest_framework.exceptions import ValidationError

from bespin.testing.processes import Processes
from jobs.models import Job, JobStatus
from webhooks import endpoint, receipts, sources
from webhooks.config import TriggerRule
from webhooks.headers import Headers
from webhooks.models import WebhookReceipt
from webhooks.tests.signing import bespin_headers, body_of, github_headers

pytestmark = pytest.mark.django_db

SECRET = "trigger-secret"


@pytest.fixture
def acme(make_source):
    return make_source("acme", secrets=[SECRET])


def _send(deliver, event: str, source="acme", **payload):
    body = body_of({"event": event, **payload})
    return deliver(source, body, bespin_headers(SECRET, body))


@pytest.mark.django_db(transaction=True)
def test_matching_delivery_starts_the_job_and_a_worker_runs_it(acme, deliver, run_worker):
    sources.set_trigger(source=acme, event_pattern="order.paid", job_kind="random_text", params={"length": 3})
    response = _send(deliver, "order.paid")
    assert response.status_code == 201
    job = Job.objects.get(id=response.json()["job_id"])
    assert (job.type, job.params, job.owner) == ("random_text", {"length": 3}, None)
    assert WebhookReceipt.objects.get(id=response.json()["id"]).job == job
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert len(job.result.split(" ")) == 3


def test_job_is_enqueued_once_the_receipt_is_committed(acme, queue, django_capture_on_commit_callbacks):
    # What the ingress's thread runs, here inside this test's transaction, which never commits.
    sources.set_trigger(source=acme, event_pattern="order.paid", job_kind="sleep", params={"seconds": 0})
    body = body_of({"event": "order.paid"})
    request = {"source_name": "acme", "headers": Headers(bespin_headers(SECRET, body).items()), "body": body}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [answer] = endpoint.answer_deliveries([request])
    assert answer.status == 201 and not queue.job_ids, "nothing is enqueued before the commit"
    for callback in callbacks:
        callback()
    assert any(answer.data["job_id"] in queued for queued in queue.job_ids)


def test_delivery_matching_no_trigger_starts_nothing(acme, deliver):
    sources.set_trigger(source=acme, event_pattern="order.paid", job_kind="sleep", params={"seconds": 0})
    response = _send(deliver, "order.void")
    assert response.json()["job_id"] is None
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("event", "kind"),
    [("order.paid", "random_text"), ("order.void", "sleep"), ("refund", None), ("order.", "sleep"), ("order", None)],
)
def test_the_most_specific_wildcard_pattern_wins(acme, deliver, event, kind):
    sources.set_trigger(source=acme, event_pattern="order.*", job_kind="sleep", params={"seconds": 0})
    sources.set_trigger(source=acme, event_pattern="order.paid", job_kind="random_text", params={"length": 1})
    job_id = _send(deliver, event).json()["job_id"]
    assert (Job.objects.get(id=job_id).type if job_id else None) == kind


def test_star_alone_matches_every_event(acme, deliver):
    sources.set_trigger(source=acme, event_pattern="*", job_kind="sleep", params={"seconds": 0})
    assert _send(deliver, "anything.at.all").json()["job_id"] is not None


def test_github_push_starts_a_job(make_source, deliver):
    source = make_source("github", scheme="github", secrets=[SECRET])
    sources.set_trigger(source=source, event_pattern="push", job_kind="random_text", params={"length": 2})
    body = body_of({"ref": "refs/heads/main"})
    response = deliver("github", body, github_headers(SECRET, body, event="push"))
    assert Job.objects.get(id=response.json()["job_id"]).type == "random_text"


def test_redelivery_starts_no_second_job(acme, deliver):
    sources.set_trigger(source=acme, event_pattern="order.paid", job_kind="sleep", params={"seconds": 0})
    first = _send(deliver, "order.paid")
    again = _send(deliver, "order.paid")
    assert again.json()["job_id"] == first.json()["job_id"]
    assert Job.objects.count() == 1


def test_disabled_trigger_starts_nothing(acme, deliver):
    sources.set_trigger(source=acme, event_pattern="order.paid", job_kind="sleep", params={"seconds": 0}, enabled=False)
    assert _send(deliver, "order.paid").json()["job_id"] is None


@pytest.mark.parametrize(
    ("kind", "params"), [("nope", {}), ("sleep", {"seconds": -1}), ("random_text", {"length": 0}), ("sleep", [])]
)
def test_trigger_with_bad_kind_or_params_is_refused_when_set(acme, kind, params):
    with pytest.raises(ValidationError):
        sources.set_trigger(source=acme, event_pattern="x", job_kind=kind, params=params)


def test_trigger_that_became_invalid_keeps_the_receipt_and_starts_nothing(acme, deliver, settings):
    sources.set_trigger(source=acme, event_pattern="big", job_kind="random_text", params={"length": 50})
    settings.RANDOM_TEXT_MAX_WORDS = 10  # the kind's limit changed after the trigger was saved
    response = _send(deliver, "big")
    assert response.status_code == 201
    assert response.json()["job_id"] is None
    assert WebhookReceipt.objects.get().job is None
    assert not Job.objects.exists()


def test_replay_runs_the_triggers_again_with_a_new_job(acme, deliver):
    response = _send(deliver, "order.paid")
    receipt = WebhookReceipt.objects.get(id=response.json()["id"])
    assert receipts.replay_receipt(receipt=receipt) is None  # no trigger yet
    sources.set_trigger(source=acme, event_pattern="order.*", job_kind="sleep", params={"seconds": 0})
    job = receipts.replay_receipt(receipt=receipt)
    again = receipts.replay_receipt(receipt=receipt)
    assert job is not None and again is not None and job.id != again.id
    receipt.refresh_from_db()
    assert receipt.job == again


def _glob_by_regex(pattern: str, event: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), event, re.DOTALL) is not None


def test_patterns_match_as_globs_do():
    # Every pattern and event over a small alphabet, against the regex a glob means.
    draw = random.Random(7)
    for _ in range(20_000):
        pattern = "".join(draw.choice("ab*.") for _ in range(draw.randint(0, 7)))
        event = "".join(draw.choice("ab.") for _ in range(draw.randint(0, 9)))
        rule = TriggerRule.build(pattern=pattern, job_kind="sleep", params={})
        assert rule.matches(event) == _glob_by_regex(pattern, event), (pattern, event)


@pytest.mark.django_db(transaction=True)
def test_a_backtracking_pattern_holds_up_no_delivery_on_a_real_server(acme, tmp_path):
    # A regex backtracks through every way the stars could split a 300-character name: minutes.
    sources.set_trigger(source=acme, event_pattern="*a*a*a*a*a*a*a*b", job_kind="sleep", params={"seconds": 0})
    sources.set_trigger(source=acme, event_pattern="order.*", job_kind="random_text", params={"length": 2})
    processes = Processes(tmp_path, LOG_LEVEL="WARNING")
    try:
        base = processes.web()
        slow, usual = (body_of({"event": event}) for event in ("a" * 300, "order.paid"))
        answers = [_post(base, body) for body in (slow, usual)]
    finally:
        processes.stop_all()
    assert [status for status, _ in answers] == [201, 201]
    assert answers[0][1]["job_id"] is None  # no `b`: no match
    assert Job.objects.get(id=answers[1][1]["job_id"]).type == "random_text"


def _post(base: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://{base}/api/webhooks/acme", data=body, method="POST",
        headers={"Content-Type": "application/json", **bespin_headers(SECRET, body)},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:  # the old regex: over a minute
        return response.status, json.load(response)
