"""A delivery's body as the JSON object a receipt stores."""

import json
import math
import re

from webhooks.rejections import Reason, Rejected

# U+0000 as json.dumps writes it: \u0000 after an even number of backslashes.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def parse_payload(body: bytes) -> dict:
    """The body as a JSON object that PostgreSQL can store, or Rejected(NOT_JSON_OBJECT)."""
    try:
        payload = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        # ValueError covers bad JSON and undecodable bytes (UnicodeDecodeError is one).
        raise Rejected(Reason.NOT_JSON_OBJECT, "the body must be a JSON object (UTF-8)") from None
    if not isinstance(payload, dict):
        raise Rejected(Reason.NOT_JSON_OBJECT, f"the body must be a JSON object, not {type(payload).__name__}")
    try:
        text = json.dumps(payload, ensure_ascii=False)
        text.encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        raise Rejected(Reason.NOT_JSON_OBJECT, "the body holds a lone UTF-16 surrogate, which is not text") from None
    if _NUL_ESCAPE.search(text):
        raise Rejected(Reason.NOT_JSON_OBJECT, "the body holds \\u0000, which PostgreSQL's jsonb cannot store")
    return payload
