"""Why a delivery was refused: one reason code per cause, each with its HTTP status, and
the record of refusals an operator reads (counts by reason, the last few).

The code is what rejections are counted by; the message, sent back as `{"error": …}`,
tells a misconfigured sender what to fix without revealing anything about the secrets.
"""

import json
import logging
from collections.abc import Mapping

import redis
from django.conf import settings
from django.utils import timezone

from bespin.lib.redis import counters_client
from webhooks import counters
from webhooks import headers as h

log = logging.getLogger("bespin.webhooks")


class Reason:
    UNKNOWN_SOURCE = "unknown_source"
    SOURCE_DISABLED = "source_disabled"
    RATE_LIMITED = "rate_limited"
    UNVERIFIED_RATE_LIMITED = "unverified_rate_limited"
    TOO_LARGE = "too_large"
    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    BAD_SIGNATURE = "bad_signature"
    NO_ACTIVE_SECRET = "no_active_secret"
    TIMESTAMP_OUT_OF_TOLERANCE = "timestamp_out_of_tolerance"
    NOT_JSON_OBJECT = "not_json_object"
    # A fault of the server's that only this delivery met; logged with its traceback.
    INTERNAL_ERROR = "internal_error"


STATUS = {
    Reason.UNKNOWN_SOURCE: 404,
    Reason.SOURCE_DISABLED: 404,
    Reason.RATE_LIMITED: 429,
    Reason.UNVERIFIED_RATE_LIMITED: 429,
    Reason.TOO_LARGE: 413,
    Reason.MISSING_SIGNATURE: 400,
    Reason.MALFORMED_SIGNATURE: 401,
    Reason.BAD_SIGNATURE: 401,
    Reason.NO_ACTIVE_SECRET: 401,
    Reason.TIMESTAMP_OUT_OF_TOLERANCE: 401,
    Reason.NOT_JSON_OBJECT: 400,
    Reason.INTERNAL_ERROR: 500,
}


class Rejected(Exception):
    """A delivery refused for `reason`; `message` is safe to show the sender."""

    def __init__(self, reason: str, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = STATUS[reason]
        self.retry_after = retry_after


# What a kept rejection shows of the body: enough to recognise it, not to store it.
BODY_HEAD_BYTES = 256


def record_rejection(*, source: str, rejection: Rejected, headers: Mapping[str, str], body: bytes) -> None:
    """Count a rejection by source and reason, and keep the last few (reason, time, headers
    with secret-bearing values redacted, first bytes of the body) for an operator to read.
    Without Redis the rejection is only logged."""
    log.info("webhook_rejected source=%s reason=%s status=%s", source, rejection.reason, rejection.status)
    entry = {
        "reason": rejection.reason,
        "status": rejection.status,
        "message": rejection.message,
        "at": timezone.now().isoformat(),
        "headers": h.redacted(headers),
        "body_head": body[:BODY_HEAD_BYTES].decode("utf-8", errors="replace"),
    }
    try:
        pipe = counters_client().pipeline(transaction=False)
        pipe.hincrby(counters.rejection_counts_key(source), rejection.reason, 1)
        pipe.lpush(counters.rejection_log_key(source), json.dumps(entry))
        pipe.ltrim(counters.rejection_log_key(source), 0, settings.WEBHOOK_REJECTIONS_KEPT - 1)
        pipe.execute()
    except redis.RedisError:
        log.warning("webhook_rejection_unrecorded source=%s: Redis unavailable", source, exc_info=True)
