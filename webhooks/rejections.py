"""Why a delivery was refused: one reason code per cause, each with its HTTP status.

The code is what rejections are counted by; the message, sent back as `{"error": …}`,
tells a misconfigured sender what to fix without revealing anything about the secrets.
"""


class Reason:
    UNKNOWN_SOURCE = "unknown_source"
    SOURCE_DISABLED = "source_disabled"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    BAD_SIGNATURE = "bad_signature"
    NO_ACTIVE_SECRET = "no_active_secret"
    TIMESTAMP_OUT_OF_TOLERANCE = "timestamp_out_of_tolerance"
    NOT_JSON_OBJECT = "not_json_object"


STATUS = {
    Reason.UNKNOWN_SOURCE: 404,
    Reason.SOURCE_DISABLED: 404,
    Reason.RATE_LIMITED: 429,
    Reason.TOO_LARGE: 413,
    Reason.MISSING_SIGNATURE: 400,
    Reason.MALFORMED_SIGNATURE: 401,
    Reason.BAD_SIGNATURE: 401,
    Reason.NO_ACTIVE_SECRET: 401,
    Reason.TIMESTAMP_OUT_OF_TOLERANCE: 401,
    Reason.NOT_JSON_OBJECT: 400,
}


class Rejected(Exception):
    """A delivery refused for `reason`; `message` is safe to show the sender."""

    def __init__(self, reason: str, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = STATUS[reason]
        self.retry_after = retry_after
