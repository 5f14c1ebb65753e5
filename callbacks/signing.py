"""Standard Webhooks signatures (https://www.standardwebhooks.com/), the sending side of
what webhooks.schemes.StandardScheme verifies: `webhook-signature: v1,<base64>` where the
base64 is the HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the bytes
that the base64 after `whsec_` encodes. Several secrets give several signatures, separated
by spaces (rotation)."""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(*, webhook_id: str, timestamp: int, body: bytes, secrets: list[str]) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per secret, separated by spaces."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode("ascii")
        for secret in secrets
    )
