"""The server's ASGI application, once imported, leaves start-up's objects to the collector's
permanent generation and collects its youngest generation less often (bespin/server/gctune.py).

Read in a process of its own: this one's collector is pytest's."""

import json
import os
import subprocess
import sys

from bespin.server import gctune
from bespin.testing.processes import ROOT

PROBE = (
    "import gc, json; default = gc.get_threshold(); import bespin.asgi; "
    "print(json.dumps({'frozen': gc.get_freeze_count(), 'threshold': gc.get_threshold(), 'default': default}))"
)


def test_importing_the_asgi_application_freezes_start_up_and_raises_the_young_threshold():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bespin.settings"}
    command = [sys.executable, "-c", PROBE]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # Django, DRF, Channels and the application's modules: tens of thousands of objects.
    assert seen["frozen"] > 50_000
    assert seen["threshold"] == [gctune.YOUNG_THRESHOLD, *seen["default"][1:]]
    assert seen["default"][0] < gctune.YOUNG_THRESHOLD
