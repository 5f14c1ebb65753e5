"""A team's own tasks, as Bespin runs them: plain `@task` functions of Django's Tasks API.

`send_report` is offered to the API (signed-in callers), reports progress and reads who
asked; `summarize` takes lists and dicts; `fetch_rates` is a coroutine; `rebuild_index` is
for code only: `rebuild_index.enqueue()` runs it, the API does not offer it.
"""

import asyncio
import hashlib
import time
from typing import Annotated, Literal

from django.contrib.auth import get_user_model
from django_tasks import task

from bespin.tasks import Between, Length, options


@task(takes_context=True)
@options(api=True, timeout=120, retries=2, backoff=5)
def send_report(
    context,
    period: Literal["day", "week", "month"] = "week",
    pages: Annotated[int, Between(1, 50), "pages in the report"] = 3,
) -> dict:
    """Builds a report of `pages` pages for `period` and sends it to whoever asked."""
    for page in range(pages):
        time.sleep(0.05)  # stands for the work of one page
        context.progress((page + 1) * 100 // pages)
    owner = get_user_model().objects.filter(id=context.owner_id).first()
    # The job's id is a key an outside mail service can deduplicate on across retries.
    return {
        "period": period,
        "pages": pages,
        "sent_to": owner.get_username() if owner else None,
        "idempotency_key": f"report-{context.job_id}",
        "attempt": context.attempt,
    }


@task
@options(api=True)
def summarize(
    text: Annotated[str, Length(maximum=10_000)],
    tags: Annotated[list[str], Length(maximum=20)] = [],  # noqa: B006 (never changed: a JSON default)
    weights: dict[str, float] = {},  # noqa: B006
) -> dict:
    """Counts the words of `text`, with its `tags` and the total of its `weights`."""
    return {"words": len(text.split()), "tags": sorted(set(tags)), "weight": sum(weights.values())}


@task
@options(api=True, timeout=30)
async def fetch_rates(currencies: Annotated[list[str], Length(1, 10)]) -> dict:
    """Rates for `currencies`, as an outside service would answer them (made up here)."""
    await asyncio.sleep(0.01)
    return {code: int(hashlib.sha256(code.encode()).hexdigest()[:4], 16) / 10_000 for code in currencies}


@task
def rebuild_index(batch: int = 100) -> dict:
    """Code only: the API does not offer it."""
    return {"rebuilt": batch}
