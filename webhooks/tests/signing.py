"""Signers written from each provider's documentation, independently of webhooks.schemes."""

import base64
import hashlib
import hmac
import json
import time


def hex_hmac(secret: str | bytes, message: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def bespin_headers(secret: str, body: bytes, **extra) -> dict:
    return {"X-Webhook-Signature": hex_hmac(secret, body), **extra}


def github_headers(secret: str, body: bytes, *, event="push", delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958"):
    return {
        "X-Hub-Signature-256": "sha256=" + hex_hmac(secret, body),
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
    }


def stripe_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict:
    # https://docs.stripe.com/webhooks#verify-manually: HMAC-SHA256 of "<t>.<payload>",
    # keyed with the endpoint's whole signing secret.
    t = int(time.time()) if timestamp is None else timestamp
    return {"Stripe-Signature": f"t={t},v1={hex_hmac(secret, f'{t}.'.encode() + body)}"}


def standard_headers(secret: str, body: bytes, *, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", timestamp=None) -> dict:
    # https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#signature-scheme
    t = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{msg_id}.{t}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(t), "webhook-signature": f"v1,{signature}"}


def body_of(payload) -> bytes:
    return json.dumps(payload).encode()
