"""What the apps built on accounts add to its API access page (accounts.views), so that
accounts imports none of them.

Each app appends its section to `access_sections` from its AppConfig.ready(): callbacks adds
the callback signing secret. Without the app, the page shows the API token alone.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Change:
    """What a section's action did: a message for the user and, when it made a secret, what
    to show on the answer page, this once (`shown`, passed to the section's template)."""

    message: str
    shown: dict = field(default_factory=dict)


class Refused(Exception):
    """An action that changes nothing, with the reason to show (a stale button, say)."""


@dataclass(frozen=True)
class AccessSection:
    """One part of the API access page. `template` is rendered with `section`: what
    `state(request)` answers, plus `shown` after one of its actions. A POST to the section
    runs `actions[request.POST["action"]](request)`, which answers a Change or raises Refused."""

    name: str  # in the URL of its actions, and the id of its heading
    template: str
    state: Callable[..., dict]
    actions: dict[str, Callable[..., Change]]


access_sections: list[AccessSection] = []
