import random

from django.conf import settings
from rest_framework import serializers

from jobs.kinds import kind as kinds

# The original service's vocabulary of cloud terms, kept word for word.
VOCABULARY = (
    "cloud", "computing", "platform", "service", "data", "storage", "network", "server",
    "virtual", "container", "function", "application", "microservice", "kubernetes",
    "docker", "infrastructure", "code", "deployment", "scaling", "monitoring",
)  # fmt: skip

DEFAULT_LENGTH = 100
# Below this many words a text is made in well under a millisecond: progress would only cost.
PROGRESS_FROM_WORDS = 10_000
PROGRESS_STEPS = 10


class RandomTextParams(serializers.Serializer):
    def get_fields(self):
        # Built per use, so that the maximum follows BESPIN_RANDOM_TEXT_MAX_WORDS.
        return {
            "length": serializers.IntegerField(
                default=DEFAULT_LENGTH,
                min_value=1,
                max_value=settings.RANDOM_TEXT_MAX_WORDS,
                help_text="Number of words",
            )
        }


def generate(params: dict, progress: kinds.Progress) -> str:
    length = params["length"]
    if length < PROGRESS_FROM_WORDS:
        return " ".join(random.choices(VOCABULARY, k=length))
    words: list[str] = []
    step = -(-length // PROGRESS_STEPS)
    while len(words) < length:
        words.extend(random.choices(VOCABULARY, k=min(step, length - len(words))))
        progress(len(words) * 100 // length)
    return " ".join(words)


KIND = kinds.JobKind(
    name="random_text",
    params_serializer=RandomTextParams,
    handler=generate,
    timeout=60,
    rerun_safe=True,
    anonymous_ceilings=lambda: {"length": settings.ANON_RANDOM_TEXT_MAX_WORDS},
    description="A text of `length` words drawn from a vocabulary of cloud terms.",
)
