"""Schemathesis hooks for test_api_contract.py (loaded through SCHEMATHESIS_HOOKS).

The one thing they do: accept the refusals of schema-valid input that JSON Schema has no way
to state, and nothing else. Each is recognised by the field it names and the server's own
message for it:

- a `run_at` further ahead than BESPIN_MAX_DELAY from now (or so far ahead or back that the
  time cannot be represented): the bound moves with the clock;
- a cron expression whose days of the month none of its months has (`0 0 31 4 *`): the
  pattern states each field's values, not the calendar;
- a task's parameters that PostgreSQL cannot store: an object's key (a `dict` parameter's)
  or an `Any` value holding U+0000 or a lone UTF-16 surrogate. OpenAPI 3.0 has no
  `propertyNames` to forbid such a key.
"""

import json

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

# (field, whether a message is the server's refusal for that reason)
_UNSTATED = (
    ("run_at", lambda message: message.startswith(("at most ", "Datetime value out of range"))),
    ("cron", lambda message: ": bad day-of-month;" in message),
    ("params", lambda message: message.startswith("cannot be stored: it holds ")),
)


def _leaves(detail, path=()):
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(detail, list):
        for value in detail:
            yield from _leaves(value, path)
    else:
        yield path, str(detail)


def only_unstated(content: bytes) -> bool:
    """Whether a 400's `fields` name nothing but such refusals (a batch names each job's by
    its index)."""
    try:
        fields = json.loads(content).get("fields")
    except (ValueError, AttributeError):
        return False
    leaves = list(_leaves(fields or {}))
    return bool(leaves) and all(
        path and any(path[-1] == name and refusal(message) for name, refusal in _UNSTATED) for path, message in leaves
    )


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    if isinstance(failure, RejectedPositiveData) and response.status_code == 400:
        return not only_unstated(response.content)
    return True
