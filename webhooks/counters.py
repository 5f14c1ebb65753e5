"""The webhooks app's state in Redis, shared by every server: per-source rate windows and
rejections (counts by reason, and the last few). Key names live here and nowhere else."""

from functools import cache

import redis
from django.conf import settings

_PREFIX = "bespin:webhooks"


def rate_key(source: str, window: int) -> str:
    return f"{_PREFIX}:rate:{source}:{window}"


def rejection_counts_key(source: str) -> str:
    return f"{_PREFIX}:rejections:{source}:counts"


def rejection_log_key(source: str) -> str:
    return f"{_PREFIX}:rejections:{source}:recent"


@cache
def _client(url: str) -> redis.Redis:
    # Short timeouts: a slow Redis must not hold a delivery; ingestion goes on without it.
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)
