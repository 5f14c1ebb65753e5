"""Bespin's built-in tasks, declared the way an app declares its own: the original service's
random text, and a sleep that demos and reliability tests use. Both are offered to every
caller, anonymous ones within smaller bounds."""

import random
import time
from typing import Annotated

from django.conf import settings
from django_tasks import task

from bespin.tasks import AnonymousAtMost, Between, options

# The original service's vocabulary of cloud terms, kept word for word.
VOCABULARY = (
    "cloud", "computing", "platform", "service", "data", "storage", "network", "server",
    "virtual", "container", "function", "application", "microservice", "kubernetes",
    "docker", "infrastructure", "code", "deployment", "scaling", "monitoring",
)  # fmt: skip

# Their names: the API's `type` (a task's module path unless its options give it a name).
RANDOM_TEXT = "random_text"
SLEEP = "sleep"

DEFAULT_LENGTH = 100
# Below this many words a text is made in well under a millisecond: progress would only cost.
PROGRESS_FROM_WORDS = 10_000
PROGRESS_STEPS = 10
# How often a sleeping job reports progress; each report is also where a cancel is noticed.
TICK_SECONDS = 0.2


@task(takes_context=True)
@options(name=RANDOM_TEXT, api=True, anonymous=True, timeout=60, rerun_safe=True)
def random_text(
    context,
    length: Annotated[
        int,
        Between(1, lambda: settings.RANDOM_TEXT_MAX_WORDS),
        AnonymousAtMost(lambda: settings.ANON_RANDOM_TEXT_MAX_WORDS),
        "Number of words",
    ] = DEFAULT_LENGTH,
) -> str:
    """A text of `length` words drawn from a vocabulary of cloud terms."""
    if length < PROGRESS_FROM_WORDS:
        return " ".join(random.choices(VOCABULARY, k=length))
    words: list[str] = []
    step = -(-length // PROGRESS_STEPS)
    while len(words) < length:
        words.extend(random.choices(VOCABULARY, k=min(step, length - len(words))))
        context.progress(len(words) * 100 // length)
    return " ".join(words)


@task(takes_context=True)
@options(name=SLEEP, api=True, anonymous=True, timeout=int(settings.SLEEP_MAX_SECONDS) + 60, rerun_safe=True)
def sleep(
    context,
    seconds: Annotated[
        float,
        Between(0, lambda: settings.SLEEP_MAX_SECONDS),
        AnonymousAtMost(lambda: settings.ANON_SLEEP_MAX_SECONDS),
        "How long to sleep",
    ],
) -> dict:
    """Sleeps for `seconds`, reporting progress; the kind demos and reliability tests use."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(TICK_SECONDS, seconds - elapsed))
        context.progress(min(100, int((time.monotonic() - started) * 100 / seconds)))
    return {"slept": seconds}
