"""Signature schemes: how each kind of sender signs a delivery, names its event and its id.

Each scheme verifies the raw bytes before anything parses them, compares in constant time,
and passes a delivery when any active key verifies any signature it carries (rotation).
A malformed header is a `Rejected` with a reason the sender can act on, never an exception.
"""

import base64
import binascii
import hashlib
import hmac

from webhooks import headers as h
from webhooks.models import SchemeName
from webhooks.rejections import Reason, Rejected
from webhooks.signatures import (
    HEX_DIGITS,
    SHA256_PREFIX,
    Scheme,
    any_matches,
    body_hash,
    check_timestamp,
    clean_delivery_id,
    clean_event,
    default_event,
    header_bytes,
    parse_timestamp,
    require_keys,
)


class BespinScheme(Scheme):
    """`X-Webhook-Signature: <hex HMAC-SHA256 of the raw body>`, `sha256=` prefix optional.
    With `X-Webhook-Timestamp: <unix seconds>`, the HMAC is of `"<timestamp>." + body` and a
    timestamp outside the source's tolerance is refused, so a captured delivery cannot be
    replayed once its receipt is pruned."""

    name = SchemeName.BESPIN
    signature_header = h.SIGNATURE

    @staticmethod
    def _timestamp(headers) -> int | None:
        raw = (headers.get(h.TIMESTAMP) or "").strip()
        return parse_timestamp(raw, h.TIMESTAMP) if raw else None

    def verify(self, *, body, headers, keys, tolerance, now):
        value = (headers.get(h.SIGNATURE) or "").strip()
        if not value:
            raise Rejected(Reason.MISSING_SIGNATURE, f"missing {h.SIGNATURE} header")
        if value[: len(SHA256_PREFIX)].lower() == SHA256_PREFIX:
            value = value[len(SHA256_PREFIX) :]
        value = value.lower()
        if len(value) != 64 or not HEX_DIGITS.issuperset(value):
            raise Rejected(
                Reason.MALFORMED_SIGNATURE,
                f"{h.SIGNATURE} must be the 64 hex digits of HMAC-SHA256(secret, raw body), optionally after sha256=",
            )
        timestamp = self._timestamp(headers)
        require_keys(keys)
        signed = body if timestamp is None else f"{timestamp}.".encode() + body
        expected = [hmac.new(key, signed, hashlib.sha256).hexdigest().encode() for key in keys]
        if not any_matches(expected, [header_bytes(value)]):
            covers = "the body" if timestamp is None else f'"<{h.TIMESTAMP}>." + the body'
            raise Rejected(
                Reason.BAD_SIGNATURE, f"{h.SIGNATURE} (of {covers}) does not match any active secret of this source"
            )
        if timestamp is not None:
            check_timestamp(timestamp, tolerance=tolerance, now=now)

    def delivery_id(self, *, headers, payload, body):
        # A timestamped delivery sent again later is a new one; the same one replayed is not.
        # The id hashes the number that was signed, not the header's spelling of it.
        timestamp = self._timestamp(headers)
        return body_hash(body if timestamp is None else f"{timestamp}.".encode() + body)


class GitHubScheme(Scheme):
    """GitHub: `X-Hub-Signature-256: sha256=<hex>`, the same HMAC as the default scheme, so a
    delivery that carries only `X-Webhook-Signature` is verified the default way. A delivery is
    known by its signed body."""

    name = SchemeName.GITHUB
    signature_header = h.GITHUB_SIGNATURE

    def verify(self, *, body, headers, keys, tolerance, now):
        value = (headers.get(h.GITHUB_SIGNATURE) or "").strip()
        if not value:
            if headers.get(h.SIGNATURE):
                return BESPIN.verify(body=body, headers=headers, keys=keys, tolerance=tolerance, now=now)
            hint = (
                f" (the SHA-1 {h.GITHUB_SIGNATURE_SHA1} is not accepted)"
                if headers.get(h.GITHUB_SIGNATURE_SHA1)
                else ""
            )
            raise Rejected(Reason.MISSING_SIGNATURE, f"missing {h.GITHUB_SIGNATURE} header{hint}")
        digest = value[len(SHA256_PREFIX) :]
        if value[: len(SHA256_PREFIX)] != SHA256_PREFIX or len(digest) != 64 or not HEX_DIGITS.issuperset(digest):
            raise Rejected(
                Reason.MALFORMED_SIGNATURE, f"{h.GITHUB_SIGNATURE} must be sha256= and 64 lowercase hex digits"
            )
        require_keys(keys)
        expected = [hmac.new(key, body, hashlib.sha256).hexdigest().encode() for key in keys]
        if not any_matches(expected, [header_bytes(digest)]):
            raise Rejected(
                Reason.BAD_SIGNATURE, f"{h.GITHUB_SIGNATURE} does not match any active secret of this source"
            )

    def event(self, *, headers, payload):
        return clean_event(headers.get(h.GITHUB_EVENT) or default_event(headers, payload))

    def delivery_id(self, *, headers, payload, body):
        # X-GitHub-Delivery is not signed: a captured delivery sent again under a new one must
        # still be the same delivery. The signed body is the id (GitHub's own redeliveries send
        # the same body); the header stays in the receipt's headers.
        return body_hash(body)


class _TypedEvents(Scheme):
    """Senders whose event is the body's `type` (Stripe, Standard Webhooks)."""

    def event(self, *, headers, payload):
        kind = payload.get("type")
        return clean_event(kind) if isinstance(kind, str) and kind else super().event(headers=headers, payload=payload)


class StripeScheme(_TypedEvents):
    """Stripe: `Stripe-Signature: t=<unix time>,v1=<hex>[,v1=…]`, the HMAC-SHA256 of
    `"<t>." + body` keyed with the whole `whsec_…` string. The event is the body's `type`,
    the delivery id the event's `id`, which Stripe keeps across its retries."""

    name = SchemeName.STRIPE
    signature_header = h.STRIPE_SIGNATURE

    def verify(self, *, body, headers, keys, tolerance, now):
        value = headers.get(h.STRIPE_SIGNATURE) or ""
        if not value.strip():
            raise Rejected(Reason.MISSING_SIGNATURE, f"missing {h.STRIPE_SIGNATURE} header")
        timestamps, signatures = [], []
        for item in value.split(","):
            name, _, field = item.strip().partition("=")
            if name == "t":
                timestamps.append(field)
            elif name == "v1":
                signatures.append(header_bytes(field.strip().lower()))
        if len(timestamps) != 1:
            raise Rejected(Reason.MALFORMED_SIGNATURE, f"{h.STRIPE_SIGNATURE} needs exactly one t=<unix seconds>")
        timestamp = parse_timestamp(timestamps[0], f"{h.STRIPE_SIGNATURE}'s t=")
        if not signatures:
            raise Rejected(Reason.MALFORMED_SIGNATURE, f"{h.STRIPE_SIGNATURE} carries no v1= signature")
        require_keys(keys)
        signed = f"{timestamp}.".encode() + body
        expected = [hmac.new(key, signed, hashlib.sha256).hexdigest().encode() for key in keys]
        if not any_matches(expected, signatures):
            raise Rejected(Reason.BAD_SIGNATURE, f"no v1 signature in {h.STRIPE_SIGNATURE} matches an active secret")
        # After the signature, so that "out of tolerance" always means a genuine but stale delivery.
        check_timestamp(timestamp, tolerance=tolerance, now=now)

    def delivery_id(self, *, headers, payload, body):
        event_id = payload.get("id")
        return clean_delivery_id(event_id) if isinstance(event_id, str) and event_id else body_hash(body)


class StandardScheme(_TypedEvents):
    """Standard Webhooks: `webhook-signature: v1,<base64>[ v1,…]` over
    `"<webhook-id>.<webhook-timestamp>." + body`, keyed with the base64 after `whsec_`."""

    name = SchemeName.STANDARD
    signature_header = h.STANDARD_SIGNATURE
    SECRET_PREFIX = "whsec_"

    def key(self, secret):
        secret = secret.strip()
        if secret.startswith(self.SECRET_PREFIX):
            secret = secret[len(self.SECRET_PREFIX) :]
        try:
            key = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            return None
        return key or None

    def verify(self, *, body, headers, keys, tolerance, now):
        for name in (h.STANDARD_ID, h.STANDARD_TIMESTAMP, h.STANDARD_SIGNATURE):
            if not (headers.get(name) or "").strip():
                raise Rejected(Reason.MISSING_SIGNATURE, f"missing {name} header")
        message_id = headers[h.STANDARD_ID].strip()
        timestamp = parse_timestamp(headers[h.STANDARD_TIMESTAMP].strip(), h.STANDARD_TIMESTAMP)
        signatures = []
        for item in headers[h.STANDARD_SIGNATURE].split():
            version, _, signature = item.partition(",")
            if version == "v1" and signature:
                signatures.append(header_bytes(signature))
        if not signatures:
            raise Rejected(Reason.MALFORMED_SIGNATURE, f"{h.STANDARD_SIGNATURE} carries no v1,<base64> signature")
        require_keys(keys)
        signed = f"{message_id}.{timestamp}.".encode("utf-8", errors="replace") + body
        expected = [base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()) for key in keys]
        if not any_matches(expected, signatures):
            raise Rejected(Reason.BAD_SIGNATURE, f"no v1 signature in {h.STANDARD_SIGNATURE} matches an active secret")
        check_timestamp(timestamp, tolerance=tolerance, now=now)

    def delivery_id(self, *, headers, payload, body):
        return clean_delivery_id(headers[h.STANDARD_ID].strip())


BESPIN = BespinScheme()
SCHEMES: dict[str, Scheme] = {
    scheme.name: scheme for scheme in (BESPIN, GitHubScheme(), StripeScheme(), StandardScheme())
}


def get_scheme(name: str) -> Scheme:
    return SCHEMES[name]
