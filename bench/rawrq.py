"""The raw-RQ baseline: the same work as Bespin's random_text kind, with no Django at all.

Plain `rq worker --worker-class rq.worker.SimpleWorker` processes import this module, so it
must stay free of Django (and of anything in bench/ that imports Django).
"""

import ast
import random
from pathlib import Path

# jobs/tasks.py's vocabulary, word for word; `vocabulary_matches_bespin()` checks it.
VOCABULARY = (
    "cloud", "computing", "platform", "service", "data", "storage", "network", "server",
    "virtual", "container", "function", "application", "microservice", "kubernetes",
    "docker", "infrastructure", "code", "deployment", "scaling", "monitoring",
)  # fmt: skip

QUEUE_NAME = "bench-raw"


def random_text(length: int = 100) -> str:
    return " ".join(random.choices(VOCABULARY, k=length))


def vocabulary_matches_bespin(root: Path) -> bool:
    """True when Bespin's random_text task draws from the same words, read without importing Django."""
    tree = ast.parse((root / "jobs" / "tasks.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "VOCABULARY" for t in node.targets):
            return ast.literal_eval(node.value) == VOCABULARY
    return False
