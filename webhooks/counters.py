"""The webhooks app's keys in Redis, shared by every server: per-source rate windows, stored
deliveries and rejections counted (counters that only grow), and the last few rejections.
Key names live here and nowhere else."""

_PREFIX = "bespin:webhooks"
# A hash: source -> verified deliveries stored.
STORED_KEY = f"{_PREFIX}:stored"


def rate_key(source: str, window: int) -> str:
    return f"{_PREFIX}:rate:{source}:{window}"


def unverified_rate_key(source: str, address: str, window: int) -> str:
    return f"{_PREFIX}:unverified:{source}:{address}:{window}"


def is_unverified_rate_key(key: str) -> bool:
    return key.startswith(f"{_PREFIX}:unverified:")


def rejection_counts_key(source: str) -> str:
    return f"{_PREFIX}:rejections:{source}:counts"


def rejection_log_key(source: str) -> str:
    return f"{_PREFIX}:rejections:{source}:recent"
