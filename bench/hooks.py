"""The webhook ingestion figure: signed, unique deliveries to Daphne from concurrent senders."""

import hashlib
import hmac
import json
import uuid
from collections import Counter

from bench.client import HttpConnection, closed_loop, percentile
from bench.measure import HOST, CpuMeter
from bench.stack import WEBHOOK_SECRET, WEBHOOK_SOURCE, Stack


def _signed_delivery(i: int) -> tuple[bytes, list[tuple[str, str]]]:
    body = json.dumps({"event": "bench.ping", "sequence": i, "nonce": uuid.uuid4().hex}).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = [
        ("Content-Type", "application/json"),
        ("X-Webhook-Signature", signature),
        ("X-Webhook-Event", "bench.ping"),
        ("X-Webhook-Delivery", str(uuid.uuid4())),
    ]
    return body, headers


async def webhook_rate(stack: Stack, port: int, *, requests: int, senders: int, time_limit: float) -> dict:
    """Signed, unique deliveries from `senders` concurrent senders; "not available" when the
    endpoint answers 404 to every probe (the webhooks app not built yet)."""
    target = f"/api/webhooks/{WEBHOOK_SOURCE}"
    probe = [_signed_delivery(-i) for i in range(1, 6)]
    connection = HttpConnection(HOST, port)
    probe_statuses = Counter()
    for body, headers in probe:
        try:
            status, _ = await connection.request("POST", target, body, headers)
        except (TimeoutError, OSError, ConnectionError) as exc:
            probe_statuses[type(exc).__name__] += 1
            continue
        probe_statuses[status] += 1
    connection.close()
    if set(probe_statuses) == {404} or not any(200 <= s < 300 for s in probe_statuses if isinstance(s, int)):
        return {"available": False, "probe": dict(probe_statuses)}
    deliveries = [_signed_delivery(i) for i in range(requests)]  # signed before the clock starts
    stored_before = _receipts(stack)
    meter = CpuMeter(stack).start()
    load = await closed_loop(
        HOST, port, clients=senders, total=requests, time_limit=time_limit,
        make_request=lambda i: ("POST", target, *deliveries[i]),
    )  # fmt: skip
    cpu = meter.stop()
    stored = _receipts(stack)
    return {
        "available": True,
        "requests": load.requests,
        "accepted": load.ok(),
        "rate": load.ok() / load.elapsed if load.elapsed else 0.0,
        "stored": (stored - stored_before) if stored is not None and stored_before is not None else None,
        "p50_ms": percentile(load.latencies, 0.5) * 1000,
        "p99_ms": percentile(load.latencies, 0.99) * 1000,
        "statuses": dict(load.statuses),
        "errors": dict(load.errors),
        "cpu": cpu,
    }


def _receipts(stack: Stack) -> int | None:
    """Stored receipts, when the webhooks app has its table (the name Django would give it)."""
    with stack.db() as db:
        table = db.execute("SELECT to_regclass('webhooks_webhookreceipt')").fetchone()[0]
        return db.execute("SELECT count(*) FROM webhooks_webhookreceipt").fetchone()[0] if table else None
