"""What each answer does to a delivery: delivered, gone, or pending again after the next
wait of the backoff schedule (jittered), and failed once the schedule is used up."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bespin.testing.processes import ROOT
from callbacks.deliveries import JITTER, Claimed, Sent, next_state
from callbacks.models import DeliveryState
from callbacks.transport import Answer

DEFAULT = (5, 30, 120, 600, 3600, 21600, 21600, 21600)
AT = datetime(2026, 1, 1, tzinfo=UTC)


def _sent(status, *, attempts=0, schedule_start=0) -> Sent:
    claimed = Claimed(
        uuid.uuid4(), uuid.uuid4(), "msg_1", "https://x.example/", attempts, schedule_start, "", uuid.uuid4()
    )
    return Sent(claimed, AT, Answer(status, "", "" if status and status < 300 else "no", 1), "{}")


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_any_2xx_is_delivered(status):
    assert next_state(_sent(status), backoff=DEFAULT) == (DeliveryState.DELIVERED, None)


def test_410_is_gone_at_once():
    assert next_state(_sent(410), backoff=DEFAULT) == (DeliveryState.GONE, None)


@pytest.mark.parametrize("status", [None, 301, 400, 404, 429, 500, 503])
def test_anything_else_waits_the_schedule_with_jitter(status):
    for made, wait in enumerate(DEFAULT):
        state, due = next_state(_sent(status, attempts=made), backoff=DEFAULT)
        assert state == DeliveryState.PENDING
        assert timedelta(seconds=wait * (1 - JITTER)) <= due - AT <= timedelta(seconds=wait * (1 + JITTER))


def test_the_last_attempt_of_the_default_schedule_is_within_24_hours():
    assert sum(DEFAULT) * (1 + JITTER) < 24 * 3600


def test_after_the_last_wait_the_delivery_has_failed():
    assert next_state(_sent(500, attempts=len(DEFAULT)), backoff=DEFAULT) == (DeliveryState.FAILED, None)


def test_send_again_starts_the_schedule_over():
    state, due = next_state(_sent(500, attempts=len(DEFAULT) + 1, schedule_start=len(DEFAULT) + 1), backoff=DEFAULT)
    assert state == DeliveryState.PENDING and due - AT <= timedelta(seconds=5 * (1 + JITTER))


def test_the_jitter_spreads_retries_of_callbacks_that_failed_together():
    dues = {next_state(_sent(500), backoff=DEFAULT)[1] for _ in range(50)}
    assert len(dues) > 40


def _backoff_setting(value: str) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; print(settings.CALLBACK_BACKOFF)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bespin.settings", "BESPIN_CALLBACK_BACKOFF": value}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_the_default_schedule_and_bespin_callback_backoff():
    assert _backoff_setting("").stdout.strip() == str(tuple(float(w) for w in DEFAULT))
    assert _backoff_setting(" 0.2, 0.5 ").stdout.strip() == "(0.2, 0.5)"
    refused = _backoff_setting("5,soon")
    assert refused.returncode != 0 and "BESPIN_CALLBACK_BACKOFF='5,soon'" in refused.stderr
