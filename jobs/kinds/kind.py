"""What a job kind is: a parameter serializer, a handler and its options."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

Progress = Callable[[int], None]
Handler = Callable[[dict, Progress], Any]


@dataclass(frozen=True)
class JobKind:
    name: str
    params_serializer: type[serializers.Serializer]
    handler: Handler
    # Seconds before the worker gives up on one attempt and fails it.
    timeout: int = 600
    # Automatic retries after a failure, with exponential backoff from `retry_backoff` seconds.
    max_retries: int = 0
    retry_backoff: float = 1.0
    # True when running the handler twice is harmless, so a job lost with its worker is re-queued.
    rerun_safe: bool = False
    description: str = ""
    # What anonymous callers may ask: parameter name -> the largest value, read when asked
    # (a callable, so that settings decide). Past it: 400, saying to sign in.
    anonymous_ceilings: Callable[[], dict[str, float]] = dict
    # The priority of its jobs when the creator names none: "high", "default" or "low".
    priority: str = "default"
    # Jobs of this kind running at once across every worker; None: no limit. The setting
    # BESPIN_MAX_CONCURRENCY overrides it (jobs.execution.concurrency keeps the slots).
    max_concurrency: int | None = None
