"""Receiving deliveries: verify each against its source (rate, size, signature, payload)
and count the refused ones; webhooks.receipts stores the verified ones. webhooks.endpoint is
the HTTP side.
"""

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings

from bespin.lib import outages
from webhooks import config, ratelimit
from webhooks import headers as h
from webhooks.config import SourceConfig, TriggerRule
from webhooks.payload import parse_payload
from webhooks.rejections import Reason, Rejected, record_rejection

log = logging.getLogger("bespin.webhooks")


@dataclass(frozen=True)
class Delivery:
    """A verified delivery, ready to be stored."""

    source: str
    event: str
    delivery_id: str
    payload: dict
    headers: dict
    trigger: TriggerRule | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.delivery_id)


def verify_deliveries(*, requests: Sequence[Mapping]) -> list[Delivery | Rejected]:
    """Verify requests (`source_name`, `headers`, `body`, and the sender's `address`) to
    their sources: each a Delivery, or the Rejected it earned (counted against its source).

    Only verified deliveries spend their source's rate, so that junk never locks the real
    sender out; what fails verification is limited apart, per source and sender address
    (BESPIN_WEBHOOK_UNVERIFIED_RATE_PER_MINUTE), and answered 429 past it. Both are counted
    in one Redis round trip for the whole batch."""
    results: list[Delivery | Rejected | None] = [None] * len(requests)
    verified: list[tuple[int, SourceConfig, Delivery]] = []
    unverified: list[tuple[int, SourceConfig, Rejected]] = []
    for index, request in enumerate(requests):
        source = config.source_config(request["source_name"])
        if source is None:
            name = request["source_name"][:64]
            results[index] = Rejected(Reason.UNKNOWN_SOURCE, f"no webhook source named {name!r}")
            log.info("webhook_rejected source=%r reason=%s", name, Reason.UNKNOWN_SOURCE)
        elif not source.enabled:
            rejection = Rejected(Reason.SOURCE_DISABLED, f"webhook source {source.name!r} is disabled")
            results[index] = _counted(source, request, rejection)
        else:
            try:
                verified.append((index, source, _verified(source, request["headers"], request["body"])))
            except Rejected as refused:
                unverified.append((index, source, refused))
            except Exception as exc:
                # Whatever else fails fails this delivery alone, never the batch it came in.
                unverified.append((index, source, internal_error(exc, source=source.name)))
    over_rate, over_junk = ratelimit.spend(
        verified=[source for _, source, _ in verified],
        unverified=[(source, requests[index].get("address", "")) for index, source, _ in unverified],
    )
    for (index, source, delivery), rejection in zip(verified, over_rate, strict=True):
        results[index] = delivery if rejection is None else _counted(source, requests[index], rejection)
    for (index, source, refused), rejection in zip(unverified, over_junk, strict=True):
        results[index] = _counted(source, requests[index], rejection or refused)
    return results


def _verified(source: SourceConfig, headers: Mapping[str, str], body: bytes) -> Delivery:
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        raise too_large()
    now = time.time()
    source.scheme.verify(
        body=body, headers=headers, keys=source.active_keys(now), tolerance=source.tolerance_seconds, now=now
    )
    payload = parse_payload(body)
    event = source.scheme.event(headers=headers, payload=payload)
    return Delivery(
        source=source.name,
        event=event,
        delivery_id=source.scheme.delivery_id(headers=headers, payload=payload, body=body),
        payload=payload,
        headers=h.stored(headers),
        trigger=source.trigger_for(event),
    )


def _counted(source: SourceConfig, request: Mapping, rejection: Rejected) -> Rejected:
    record_rejection(source=source.name, rejection=rejection, headers=request["headers"], body=request["body"])
    return rejection


def internal_error(exc: Exception, *, source: str) -> Rejected:
    """A delivery that met a fault of the server's: logged with its traceback and answered
    500 on its own. An outage (PostgreSQL or Redis down) is everyone's, so it goes on up."""
    if outages.unavailable_part(exc) is not None:
        raise exc
    log.error("webhook_delivery_failed source=%s", source, exc_info=exc)
    return Rejected(Reason.INTERNAL_ERROR, "internal server error")


def too_large() -> Rejected:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    return Rejected(Reason.TOO_LARGE, f"the body is over the limit of {limit} bytes (BESPIN_WEBHOOK_MAX_BYTES)")


def reject_too_large(*, source_name: str, headers: Mapping[str, str], head: bytes) -> Rejected:
    """For an HTTP entry point that refused a body over the size limit before reading it all:
    count the rejection against the source, if there is one, and return it."""
    rejection = too_large()
    source = config.source_config(source_name)
    if source is not None:
        record_rejection(source=source.name, rejection=rejection, headers=headers, body=head)
    return rejection
