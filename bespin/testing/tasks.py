"""Tasks the tests run, beside the built-ins and the example app's. Module-level, as every
task must be; a test registers the one it needs with the `register_task` fixture, which
offers it to the API with the options the test gives."""

import time
from typing import Annotated, Literal

from django_tasks import task

from bespin.tasks import Between, Length

# What the tasks below were called with, for the tests to read (they run in the test's process).
CALLS: list = []


@task
def boom() -> None:
    raise RuntimeError("disk on fire")


@task
def slow() -> str:
    CALLS.append("started")
    time.sleep(10)
    CALLS.append("returned")
    return "too late"


@task
def flaky() -> str:
    CALLS.append("called")
    if len(CALLS) < 3:
        raise ConnectionError(f"upstream down (call {len(CALLS)})")
    return "third time lucky"


@task
def counted() -> str:
    CALLS.append(1)
    return "done"


@task
def nul() -> str:
    return "a\x00b"


@task
def echo(
    word: Annotated[str, Length(maximum=20), "What to say back"] = "hi",
    loud: bool = False,
    mood: Literal["calm", "busy"] = "calm",
) -> dict:
    """Says `word` back."""
    return {"word": word.upper() if loud else word, "mood": mood}


@task
def report(pages: Annotated[int, Between(1, 50)]) -> dict:
    """A report of `pages` pages."""
    return {"pages": pages}


@task(takes_context=True)
def charge_card(context, seconds: float = 1) -> dict:
    """Not safe to run twice: sleeps, reporting progress, as a card charge would take."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(0.2, seconds - elapsed))
        context.progress(int(elapsed * 100 / seconds))
    return {"charged": True}
