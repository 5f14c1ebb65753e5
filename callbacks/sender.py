"""Sending callbacks, in every worker beside RQ's loop (jobs.execution.worker starts it with its other
threads): a slow or dead receiver takes a sending thread's time, never a job's.

One dispatcher thread does all the database work, a batch at a time: it records what the
sends finished, claims as many due callbacks as it has idle senders (callbacks.deliveries),
loads their jobs and owners' secrets, and hands them out. BESPIN_CALLBACK_CONCURRENCY sending
threads sign and POST (callbacks.transport) and touch no database. A listener thread waits on
PostgreSQL's NOTIFY, which the trigger that creates a delivery sends when the job's end
commits, and wakes the dispatcher; PostgreSQL stays the truth, and the dispatcher also looks
again at the earliest next_attempt_at, at least every POLL_SECONDS. While callbacks are in
flight the dispatcher renews their claims, so another worker takes one only once this one
is gone.
"""

import logging
import queue
import threading
import time
from collections import Counter

import psycopg
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection, connections
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from callbacks import deliveries, selectors, signing, transport
from callbacks.deliveries import Claimed, Sent
from callbacks.services import NOTIFY_CHANNEL
from callbacks.transport import Answer
from jobs.api.serializers import JobSerializer
from jobs.models import Job

log = logging.getLogger("bespin.callbacks")

USER_AGENT = "Bespin-Callbacks/1.0 (+https://www.standardwebhooks.com/)"
# The longest the dispatcher sleeps without a notification; the shortest, when callbacks are
# due but another worker holds them for the moment.
POLL_SECONDS = 1.0
MIN_PAUSE = 0.05
# The dispatcher claims more once this fraction of the senders (or all, when none is busy) is idle.
REFILL_FRACTION = 4
# How soon the threads notice that the worker is stopping.
STOP_CHECK = 0.2
# The claims of callbacks in flight are renewed once this fraction of their lease has passed.
RENEW_FRACTION = 3
# After a database error: the first pause before trying again, and the longest.
ERROR_PAUSE = 0.5
ERROR_PAUSE_MAX = 10.0
NO_SECRET = "not sent: the job's owner has no callback signing secret (POST /api/me/callback-secret)"


def render_bodies(jobs: list[Job]) -> dict:
    """Each job's resource as GET /api/jobs/<id> answers it on BESPIN_PUBLIC_URL, by job id.
    One serializer for all of them: DRF builds a ModelSerializer's fields per instance, which
    would cost more than everything else a callback takes."""
    data = JobSerializer(jobs, many=True, context={"public_url": settings.PUBLIC_URL}).data
    renderer = JSONRenderer()
    return {job.id: renderer.render(item).decode() for job, item in zip(jobs, data, strict=True)}


def headers_for(*, webhook_id: str, timestamp: int, body: bytes, secrets: list[str]) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature(webhook_id=webhook_id, timestamp=timestamp, body=body, secrets=secrets),
    }


def prepare(claimed: list[Claimed]) -> tuple[list[tuple[Claimed, str, list[str]]], list[Sent]]:
    """(claimed, body, secrets) for each callback that can be sent, and the attempts of those
    that cannot (their owner has no secret) to record as failed. A body is made once, at the
    first attempt, so that every retry of a webhook-id sends the same bytes."""
    fresh = [item.job_id for item in claimed if not item.body]
    kept = [item.job_id for item in claimed if item.body]
    jobs = {job.id: job for job in Job.objects.filter(id__in=fresh)} if fresh else {}
    owners = {job_id: job.owner_id for job_id, job in jobs.items()}
    if kept:
        owners.update(Job.objects.filter(id__in=kept).values_list("id", "owner_id"))
    secrets = selectors.signing_secrets(user_ids=[owner for owner in owners.values() if owner is not None])
    bodies = render_bodies(list(jobs.values()))
    ready, refused = [], []
    for item in claimed:
        if item.job_id not in owners:
            continue  # the job was deleted, and its deliveries with it
        keys = secrets.get(owners[item.job_id])
        if not keys:
            refused.append(Sent(item, timezone.now(), Answer(None, "", NO_SECRET, 0), item.body))
            continue
        ready.append((item, item.body or bodies[item.job_id], keys))
    return ready, refused


def send(item: Claimed, body: str, secrets: list[str]) -> Sent:
    """One attempt: sign with the current time and POST. Never raises: whatever goes wrong
    is the attempt's error, so that a sending thread and its count of work in flight live on."""
    at = timezone.now()
    raw = body.encode()
    try:
        headers = headers_for(webhook_id=item.webhook_id, timestamp=int(at.timestamp()), body=raw, secrets=secrets)
        answer = transport.post(
            url=item.url, body=raw, headers=headers, timeout=settings.CALLBACK_TIMEOUT,
            allow_private=settings.CALLBACK_ALLOW_PRIVATE,
        )  # fmt: skip
    except Exception as error:
        log.exception("callbacks: sending %s failed unexpectedly", item.webhook_id)
        answer = Answer(None, "", f"not sent: {type(error).__name__}: {error}"[:1000], 0)
    return Sent(item, at, answer, body)


def deliver_due(*, limit: int = 100) -> int:
    """Claim what is due and send it from this thread, one after another; how many attempts
    were recorded. For a one-off run (a command, a test); the workers use Sender."""
    claimed = deliveries.claim_due(limit=limit)
    ready, sent = prepare(claimed)
    sent += [send(*args) for args in ready]
    deliveries.record_attempts(sent=sent)
    return len(sent)


def start_senders(stop: threading.Event) -> list[threading.Thread]:
    """For every worker (jobs.extensions.worker_services): its Sender's threads."""
    return Sender(stop=stop).start()


class Sender:
    """The dispatcher, the sending threads and the listener of one worker; they stop with `stop`."""

    def __init__(self, *, stop: threading.Event, concurrency: int | None = None):
        self.stop = stop
        self.concurrency = concurrency or settings.CALLBACK_CONCURRENCY
        self.wake = threading.Event()
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.done: queue.SimpleQueue[Sent] = queue.SimpleQueue()
        self.in_flight = 0  # the dispatcher's count: handed out and not yet recorded
        self.claims: Counter = Counter()  # the claims of those, and how many of each
        self.renewed = time.monotonic()
        self.refill = max(1, self.concurrency // REFILL_FRACTION)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._dispatch, name="bespin-callbacks", daemon=True),
            threading.Thread(target=self._listen, name="bespin-callbacks-listen", daemon=True),
        ]
        threads += [
            threading.Thread(target=self._send_loop, name=f"bespin-callbacks-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        return threads

    def _send_loop(self) -> None:
        try:
            while (work := self.outbox.get()) is not None:
                self.done.put(send(*work))
                self.wake.set()
        finally:
            transport.close_all()

    def _record(self) -> None:
        sent = []
        while True:
            try:
                sent.append(self.done.get_nowait())
            except queue.Empty:
                break
        try:
            deliveries.record_attempts(sent=sent)
        except BaseException:
            for item in sent:  # recorded at the next turn instead
                self.done.put(item)
            raise
        self.in_flight -= len(sent)
        self.claims -= Counter(item.claimed.claim for item in sent)

    def _renew(self) -> None:
        if not self.claims:
            self.renewed = time.monotonic()
        elif time.monotonic() - self.renewed >= deliveries.lease_seconds() / RENEW_FRACTION:
            deliveries.renew_claims(list(self.claims))
            self.renewed = time.monotonic()

    def _turn(self) -> float:
        """Record, renew, claim, hand out; how long to sleep unless woken."""
        self._record()
        self._renew()
        free = self.concurrency - self.in_flight
        if free < self.refill and self.in_flight:
            # Most senders busy: wait for more answers, and claim, load and record for many
            # at once rather than a statement or three per callback.
            return POLL_SECONDS
        claimed = deliveries.claim_due(limit=free)
        ready, refused = prepare(claimed)
        for work in ready:
            self.outbox.put(work)
        self.in_flight += len(ready)
        self.claims.update(item.claim for item, _, _ in ready)
        deliveries.record_attempts(sent=refused)
        if claimed and len(claimed) == free:
            return POLL_SECONDS  # full: the next answer wakes us
        due = selectors.next_due()
        if due is None:
            return POLL_SECONDS
        return max(MIN_PAUSE, min(POLL_SECONDS, (due - timezone.now()).total_seconds()))

    def _dispatch(self) -> None:
        pause = ERROR_PAUSE
        while not self.stop.is_set():
            self.wake.clear()
            try:
                wait = self._turn()
                pause = ERROR_PAUSE
            except Exception:
                # PostgreSQL away, most likely; whatever it is, this worker's callbacks go on after a pause.
                log.warning("callbacks: dispatching failed; trying again in %.1f s", pause, exc_info=True)
                connection.close()
                self.stop.wait(pause)
                pause = min(ERROR_PAUSE_MAX, pause * 2)
                continue
            self._sleep(wait)
        self._finish()

    def _sleep(self, seconds: float) -> None:
        """Until woken, `seconds` have passed, or the worker stops."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self.wake.wait(min(left, STOP_CHECK)):
                return

    def _finish(self) -> None:
        """On stop: let the sends in flight end (each within the timeout) and record them."""
        for _ in range(self.concurrency):
            self.outbox.put(None)
        deadline = time.monotonic() + settings.CALLBACK_TIMEOUT + 1
        while self.in_flight > 0 and time.monotonic() < deadline:
            self.wake.wait(0.1)
            self.wake.clear()
            try:
                self._record()
            except DatabaseError:
                break  # the claims run out and another worker sends them
        connection.close()

    def _listen(self) -> None:
        pause = ERROR_PAUSE
        while not self.stop.is_set():
            try:
                with psycopg.connect(**_listen_params(), autocommit=True) as listening:
                    listening.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.wake.set()  # whatever ended while nobody listened
                    pause = ERROR_PAUSE
                    while not self.stop.is_set():
                        for _ in listening.notifies(timeout=STOP_CHECK):
                            self.wake.set()
            except psycopg.Error:
                log.warning("callbacks: listening failed; polling meanwhile", exc_info=True)
                self.stop.wait(pause)
                pause = min(ERROR_PAUSE_MAX, pause * 2)


def _listen_params() -> dict:
    # Django's own connection settings; a connection of its own, outside Django's pool: it
    # stays open as long as the worker, doing nothing but wait. LISTEN belongs to a session:
    # straight to PostgreSQL when the rest goes through PgBouncer (DATABASE_DIRECT_URL).
    params = connections[settings.SESSION_DATABASE].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return params
