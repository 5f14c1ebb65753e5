"""What every signature scheme shares: constant-time matching, the timestamp window, the
event and delivery id a delivery is stored under, and the Scheme base class."""

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from webhooks import headers as h
from webhooks.rejections import Reason, Rejected

UNKNOWN_EVENT = "unknown"
MAX_EVENT_LENGTH = 200
MAX_DELIVERY_ID_LENGTH = 200
HEX_DIGITS = frozenset("0123456789abcdef")
SHA256_PREFIX = "sha256="


def header_bytes(value: str) -> bytes:
    # Header values arrive as latin-1 text; anything else cannot match a signature anyway.
    return value.encode("latin-1", errors="replace")


def any_matches(expected: Sequence[bytes], given: Sequence[bytes]) -> bool:
    matched = False
    for wanted in expected:
        for candidate in given:
            # No early exit: the time taken does not depend on which pair matched.
            matched |= hmac.compare_digest(wanted, candidate)
    return matched


def require_keys(keys: Sequence[bytes]) -> None:
    if not keys:
        raise Rejected(Reason.NO_ACTIVE_SECRET, "this source has no active secret: nothing can verify")


# Unix seconds up to the year 33658: far more than a clock can be off, and short enough that
# no parser is asked for a number it refuses (Python's int() stops at 4,300 digits).
MAX_TIMESTAMP_DIGITS = 12


def parse_timestamp(raw: str, header: str) -> int:
    """A signed timestamp as unix seconds, written canonically: ASCII digits without leading
    zeros. `0<t>` would sign the same number as `<t>` and yet look like a new delivery."""
    if (
        not raw.isascii()
        or not raw.isdigit()
        or len(raw) > MAX_TIMESTAMP_DIGITS
        or (raw.startswith("0") and raw != "0")
    ):
        raise Rejected(Reason.MALFORMED_SIGNATURE, f"{header} must be unix seconds (digits, no leading zeros)")
    return int(raw)


def check_timestamp(timestamp: int, *, tolerance: int, now: float) -> None:
    if tolerance and abs(now - timestamp) > tolerance:
        raise Rejected(
            Reason.TIMESTAMP_OUT_OF_TOLERANCE,
            f"signed timestamp {timestamp} is {abs(now - timestamp):.0f} s from the server's clock "
            f"(tolerance {tolerance} s): a replay, or a sender clock that is off",
        )


def default_event(headers: Mapping[str, str], payload: dict) -> str:
    event = payload.get("event")
    if isinstance(event, str) and event:
        return event
    return headers.get(h.EVENT) or UNKNOWN_EVENT


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def clean_delivery_id(value: str) -> str:
    """A delivery id that fits its column: one too long is replaced by its hash, not cut
    (two ids cut to the same prefix would be taken for one delivery)."""
    value = value.replace("\x00", "")
    if len(value) > MAX_DELIVERY_ID_LENGTH:
        return "sha256:" + hashlib.sha256(value.encode("utf-8", errors="replace")).hexdigest()
    return value


def clean_event(value: str) -> str:
    return value.replace("\x00", "")[:MAX_EVENT_LENGTH] or UNKNOWN_EVENT


class Scheme:
    name: str
    signature_header: str

    def key(self, secret: str) -> bytes | None:
        """The HMAC key of a configured secret; None for one that can never verify."""
        secret = secret.strip()
        return secret.encode() if secret else None

    def verify(self, *, body: bytes, headers: Mapping[str, str], keys: Sequence[bytes], tolerance: int, now: float):
        raise NotImplementedError

    def event(self, *, headers: Mapping[str, str], payload: dict) -> str:
        return clean_event(default_event(headers, payload))

    def delivery_id(self, *, headers: Mapping[str, str], payload: dict, body: bytes) -> str:
        return body_hash(body)
