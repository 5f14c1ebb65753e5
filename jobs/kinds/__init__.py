"""The registry of job kinds.

A kind is a parameter serializer and a handler `handler(params, progress) -> result`.
Adding one is a module in this package and one line in `_load` below. A kind's limits are
its serializer's field bounds (read from settings when the fields are built, so that an
operator can change them): the API, the dashboard's forms and the OpenAPI schema all read
them from there.
"""

from django.conf import settings
from rest_framework import serializers

from jobs.kinds.kind import Handler, JobKind, Progress  # noqa: F401  (the registry's vocabulary)


def _load() -> dict[str, JobKind]:
    from jobs.kinds import random_text, sleep

    return {kind.name: kind for kind in (random_text.KIND, sleep.KIND)}


KINDS: dict[str, JobKind] = _load()
RANDOM_TEXT = "random_text"
SLEEP = "sleep"


def get_kind(name: str) -> JobKind | None:
    return KINDS.get(name)


def concurrency_limit(name: str) -> int | None:
    """How many jobs of kind `name` may run at once, or None for no limit: the setting's
    value for the kind (0: none), else the kind's own."""
    if name in settings.MAX_CONCURRENCY:
        return settings.MAX_CONCURRENCY[name] or None
    job_kind = KINDS.get(name)
    return job_kind.max_concurrency if job_kind is not None else None


def validate_params(
    *, kind: str, params, anonymous: bool = False, checkers: dict | None = None
) -> tuple[JobKind, dict]:
    """The kind and its checked parameters; raises serializers.ValidationError naming `type`
    (an unknown kind) or `params` (bad parameters, or past an anonymous caller's ceiling).

    `checkers`, a dict kept by a caller checking many jobs at once (a batch), holds one
    parameter serializer per kind for all of them: a serializer builds its fields anew for
    each instance, most of the cost of checking one job's parameters."""
    job_kind = get_kind(kind) if isinstance(kind, str) else None
    if job_kind is None:
        raise serializers.ValidationError({"type": [f"unknown job type {kind!r}; known: {', '.join(KINDS)}"]})
    if not isinstance(params, dict):
        raise serializers.ValidationError({"params": ["must be a JSON object"]})
    checker = None if checkers is None else checkers.get(job_kind.name)
    if checker is None:
        checker = job_kind.params_serializer()
        if checkers is not None:
            checkers[job_kind.name] = checker
    try:
        # What is_valid() runs, without keeping the data on the serializer.
        clean = dict(checker.run_validation(params))
    except serializers.ValidationError as error:
        raise serializers.ValidationError({"params": error.detail}) from None
    if anonymous:
        over = {
            name: [f"at most {ceiling:g} for anonymous callers; sign in to ask for more"]
            for name, ceiling in job_kind.anonymous_ceilings().items()
            if isinstance(clean.get(name), int | float) and clean[name] > ceiling
        }
        if over:
            raise serializers.ValidationError({"params": over})
    return job_kind, clean
