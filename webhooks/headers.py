"""Every HTTP header name the webhooks app reads or keeps, and what may be kept of a request.

A receipt keeps only the allow-listed headers below: nothing that carries a signature or a
credential. A rejection keeps more, to show an operator what a failing sender sent, with the
value of every header that could carry a secret replaced by its length.
"""

from collections.abc import Iterable, Mapping

# The default scheme (bespin), as in the seed.
SIGNATURE = "X-Webhook-Signature"
EVENT = "X-Webhook-Event"
# Optional: when present, the signature covers "<timestamp>." + body, and a stale one is refused.
TIMESTAMP = "X-Webhook-Timestamp"
# GitHub: https://docs.github.com/webhooks/webhook-events-and-payloads#delivery-headers
GITHUB_SIGNATURE = "X-Hub-Signature-256"
GITHUB_SIGNATURE_SHA1 = "X-Hub-Signature"
GITHUB_EVENT = "X-GitHub-Event"
GITHUB_DELIVERY = "X-GitHub-Delivery"
# Stripe: https://docs.stripe.com/webhooks#verify-manually
STRIPE_SIGNATURE = "Stripe-Signature"
# Standard Webhooks: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
STANDARD_ID = "webhook-id"
STANDARD_TIMESTAMP = "webhook-timestamp"
STANDARD_SIGNATURE = "webhook-signature"

CONTENT_LENGTH = "Content-Length"
RETRY_AFTER = "Retry-After"

STORED = (
    "Content-Type",
    "User-Agent",
    EVENT,
    TIMESTAMP,
    GITHUB_EVENT,
    GITHUB_DELIVERY,
    "X-GitHub-Hook-ID",
    "X-GitHub-Hook-Installation-Target-ID",
    "X-GitHub-Hook-Installation-Target-Type",
    STANDARD_ID,
    STANDARD_TIMESTAMP,
)
# Any header whose name contains one of these may carry a secret: kept only as its length.
_SECRET_BEARING = ("signature", "authorization", "cookie", "token", "secret", "key", "password", "auth")

MAX_VALUE_LENGTH = 500
MAX_REJECTION_HEADERS = 40


class Headers(Mapping):
    """Request headers looked up case-insensitively, as HTTP defines them."""

    def __init__(self, pairs: Iterable[tuple[str, str]]):
        self._values: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            # A repeated header is one list-valued header (RFC 9110, 5.3).
            self._values[key] = f"{self._values[key]},{value}" if key in self._values else value

    @classmethod
    def from_asgi(cls, raw: Iterable[tuple[bytes, bytes]]) -> "Headers":
        return cls((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _clean(value: str) -> str:
    # PostgreSQL's jsonb cannot hold U+0000.
    return value.replace("\x00", "")[:MAX_VALUE_LENGTH]


def stored(headers: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed headers a receipt keeps."""
    kept = {}
    for name in STORED:
        value = headers.get(name)
        if value is not None:
            kept[name] = _clean(value)
    return kept


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    """Every header, for a rejection: secret-bearing values replaced by their length."""
    kept = {}
    for name, value in list(headers.items())[:MAX_REJECTION_HEADERS]:
        lowered = name.lower()
        if any(word in lowered for word in _SECRET_BEARING):
            kept[_clean(lowered)] = f"<redacted, {len(value)} characters>"
        else:
            kept[_clean(lowered)] = _clean(value)
    return kept
