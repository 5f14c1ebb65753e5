"""A delivery's body as the JSON object a receipt stores."""

import math

from bespin.lib import jsonbody
from bespin.lib.jsontypes import unstorable
from webhooks.rejections import Reason, Rejected


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
        payload = jsonbody.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except jsonbody.TooDeep as error:
        raise Rejected(Reason.NOT_JSON_OBJECT, f"the body must be a JSON object; this one is {error}") from None
    except ValueError:
        # ValueError covers bad JSON and undecodable bytes (UnicodeDecodeError is one).
        raise Rejected(Reason.NOT_JSON_OBJECT, "the body must be a JSON object (UTF-8)") from None
    if not isinstance(payload, dict):
        raise Rejected(Reason.NOT_JSON_OBJECT, f"the body must be a JSON object, not {type(payload).__name__}")
    if why := unstorable(payload):
        raise Rejected(Reason.NOT_JSON_OBJECT, f"the body cannot be stored: {why}")
    return payload
