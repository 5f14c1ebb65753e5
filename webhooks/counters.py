"""The webhooks app's keys in Redis, shared by every server: per-source rate limits, stored
deliveries and rejections counted (counters that only grow), and the last few rejections.
Key names live here and nowhere else."""

_PREFIX = "bespin:webhooks"
# A hash: source -> verified deliveries stored.
STORED_KEY = f"{_PREFIX}:stored"


def rate_key(source: str) -> str:
    return f"{_PREFIX}:rate:{source}"


def unverified_rate_key(source: str, address: str) -> str:
    return f"{_PREFIX}:unverified:{source}:{address}"


def rejection_counts_key(source: str) -> str:
    return f"{_PREFIX}:rejections:{source}:counts"


def rejection_log_key(source: str) -> str:
    return f"{_PREFIX}:rejections:{source}:recent"
