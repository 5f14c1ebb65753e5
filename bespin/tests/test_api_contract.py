"""The OpenAPI schema is the API's contract: Schemathesis, driven by /api/schema/, sends
generated requests (valid ones, invalid ones, and chains of them following the schema's
links) to Daphne started as a process, and every answer must be as the schema says.

Configuration: schemathesis.toml beside this file (the per-operation exceptions, each with
its reason) and contract_hooks.py (the refusals no schema can state)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from bespin.testing.processes import ROOT, Processes
from callbacks.services import rotate_callback_secret

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
METRICS_TOKEN = "contract-metrics-token"
# Generated requests per operation and phase (examples, coverage, fuzzing, stateful), from a
# fixed seed: every run explores the same requests, however fast the machine. More finds
# more (BESPIN_CONTRACT_EXAMPLES, BESPIN_CONTRACT_SEED).
EXAMPLES = int(os.environ.get("BESPIN_CONTRACT_EXAMPLES", "25"))
SEED = 20261129
# The longest a run may take before it counts as hung.
TIMEOUT = 240


@pytest.fixture
def contract_server(tmp_path):
    # Creation rates off: every request comes from one address and one user. Callbacks to
    # any address: which are public is not something a schema can say, and no worker runs to
    # send them.
    processes = Processes(
        tmp_path, BESPIN_THROTTLE_USER="", BESPIN_METRICS_TOKEN=METRICS_TOKEN, BESPIN_CALLBACK_ALLOW_PRIVATE="1"
    )
    base = processes.web()
    yield base
    processes.stop_all()


def test_every_answer_is_what_the_schema_says(contract_server, tmp_path):
    staff = User.objects.create_user("contract", is_staff=True)
    token = Token.objects.create(user=staff)
    # A callback_url needs its owner's signing secret; the schema cannot know who has one.
    rotate_callback_secret(user=staff)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "bespin.tests.contract_hooks",
        "BESPIN_CONTRACT_TOKEN": token.key,
        "BESPIN_CONTRACT_METRICS_TOKEN": METRICS_TOKEN,
    }
    # One worker: the other core is Daphne's, and on Python 3.11 two threads in ast.parse at
    # once (Hypothesis describing its strategies) can fail with "AST constructor recursion
    # depth mismatch".
    command = [
        SCHEMATHESIS, "--config-file", str(HERE / "schemathesis.toml"), "--no-color",
        "run", f"http://{contract_server}/api/schema/", "--checks", "all", "--max-examples", str(EXAMPLES),
        "--workers", "1", "--generation-database", "none", "--request-timeout", "10",
        "--seed", os.environ.get("BESPIN_CONTRACT_SEED", str(SEED)),
    ]  # fmt: skip
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    report = run.stdout + run.stderr
    # What went wrong, from the first error or failure Schemathesis lists.
    found = min((report.find(title) for title in (" ERRORS ", " FAILURES ") if title in report), default=0)
    assert run.returncode == 0, report[found : found + 30_000]
    # ...and it reached every operation.
    selected, total = re.search(r"Selected: (\d+)/(\d+)", report).groups()
    assert selected == total == re.search(r"Tested: (\d+)", report)[1], report[-3_000:]
