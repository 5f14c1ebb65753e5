"""Creating jobs: one at a time or in batches, each checked by its kind, against the caller's
limits and an Idempotency-Key, inserted, then enqueued and published once committed.

A job's later changes are jobs.services.lifecycle's.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers

from jobs import events, extensions, registry, rows
from jobs.callers import Caller
from jobs.execution import queue
from jobs.models import IdempotencyKey, Job, JobStatus, Priority
from jobs.services import caps
from jobs.services.caps import TooManyUnfinished
from jobs.services.lifecycle import announce_many, log_change
from jobs.timing import TIMING_FIELDS, Timing, timing_for


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key came back with different parameters (the API answers 422)."""


IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# The most jobs one batch may create.
MAX_BATCH = 1000
# What an entry of a batch may say.
ENTRY_FIELDS = frozenset({"type", "params", "callback_url", *TIMING_FIELDS})


@dataclass
class Created:
    job: Job
    replayed: bool = False


def create_job(
    *,
    kind: str,
    params,
    owner=None,
    caller: Caller | None = None,
    callback_url: str = "",
    timing: dict | None = None,
    offered_only: bool = True,
) -> Job:
    """Create a job of `kind`: pending, and enqueued once the row is committed, or scheduled
    when `timing` (`run_at` or `delay`, and `priority`: jobs.timing) puts it in the future.
    Raises serializers.ValidationError for an unknown kind, bad parameters or timing, or a
    callback_url that cannot be used. A `caller` (a request's) brings its limits; without one
    (webhook triggers) `owner` owns the job. When it ends, the workers POST it to `callback_url`.
    `offered_only=False` for code (Django's `enqueue`), which may run any task."""
    return create_job_once(
        kind=kind, params=params, owner=owner, caller=caller, callback_url=callback_url, timing=timing,
        offered_only=offered_only,
    ).job  # fmt: skip


def create_job_once(
    *,
    kind: str,
    params,
    owner=None,
    caller: Caller | None = None,
    idempotency_key: str = "",
    callback_url: str = "",
    timing: dict | None = None,
    offered_only: bool = True,
) -> Created:
    """`create_job` that honours an Idempotency-Key: the same key from the same caller within
    IDEMPOTENCY_KEY_TTL gives back the first job (`replayed`), also when two requests race.
    Raises TooManyUnfinished when the caller has reached its cap."""
    anonymous = caller is not None and caller.anonymous
    job_kind, clean_params = registry.validate_params(
        kind=kind, params=params, anonymous=anonymous, offered_only=offered_only
    )
    when = _anonymous_priority(timing_for(job_kind, timing or {}), timing or {}, anonymous)
    if caller is not None:
        owner = caller.owner
    owner = owner if owner is not None and owner.pk else None
    callback_url = extensions.check_callback_url(url=callback_url, owner=owner, anonymous=anonymous)
    client = caller.client if caller is not None else ""
    if idempotency_key:
        asked = {name: str(timing[name]) for name in TIMING_FIELDS if timing and timing.get(name) is not None}
        return _create_once(job_kind, clean_params, owner, caller, idempotency_key, callback_url, when, asked)
    if caller is None or not caller.max_unfinished:
        # One INSERT needs no transaction of its own: outside one, its on_commit work runs
        # as soon as it is written; inside a caller's, after the caller commits.
        return Created(_insert_job(job_kind, clean_params, owner, client, callback_url, when))
    with transaction.atomic():
        caps.hold(caller)
        return Created(_insert_job(job_kind, clean_params, owner, client, callback_url, when))


def _create_once(
    job_kind, params: dict, owner, caller: Caller | None, key: str, callback_url: str, when: Timing, asked: dict
) -> Created:
    client = caller.client if caller is not None else ""
    fingerprint = _fingerprint(job_kind.name, params, callback_url, asked)
    IdempotencyKey.objects.filter(client=client, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_KEY_TTL).delete()
    try:
        with transaction.atomic():
            if caller is not None and caller.max_unfinished:
                caps.hold(caller)
            job = _insert_job(job_kind, params, owner, client, callback_url, when)
            # The unique (client, key) index makes a concurrent twin wait here for this
            # transaction, then fail, so exactly one job is created.
            IdempotencyKey.objects.create(client=client, key=key, fingerprint=fingerprint, job=job)
            return Created(job)
    except (IntegrityError, TooManyUnfinished) as error:
        # A replay of a key already used is answered even when the caller is at its cap.
        existing = IdempotencyKey.objects.select_related("job").filter(client=client, key=key).first()
        if existing is None:
            raise error from None
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with different parameters; use a new key"
            ) from None
        return Created(existing.job, replayed=True)


@dataclass
class Batch:
    jobs: list[Job]
    replayed: bool = False


def create_jobs(*, entries, caller: Caller | None = None, idempotency_key: str = "") -> Batch:
    """Create 1 to MAX_BATCH jobs from `entries` (each `{"type", "params", "callback_url"}`,
    and `run_at` or `delay` and `priority` as jobs.timing reads them), all or none: every
    entry is checked first, and a ValidationError names each bad index (`{"jobs": {"3": …}}`).
    Then one INSERT, and once it commits one pipelined enqueue and one publish per group for
    the lot. The caller's limits count each job; an Idempotency-Key covers the whole batch."""
    anonymous = caller is not None and caller.anonymous
    owner = caller.owner if caller is not None else None
    client = caller.client if caller is not None else ""
    checked, asked, errors, checkers = [], [], {}, {}
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise serializers.ValidationError({"non_field_errors": ["must be a JSON object"]})
            if unknown := sorted(set(entry) - ENTRY_FIELDS):
                message = f"unknown field; the fields are: {', '.join(sorted(ENTRY_FIELDS))}"
                raise serializers.ValidationError({name: [message] for name in unknown})
            job_kind, params = registry.validate_params(
                kind=entry.get("type"), params=entry.get("params", {}), anonymous=anonymous, checkers=checkers
            )
            when = _anonymous_priority(timing_for(job_kind, entry), entry, anonymous)
            url = extensions.check_callback_url(url=entry.get("callback_url") or "", owner=owner, anonymous=anonymous)
            checked.append(_new_job(job_kind, params, owner, client, url, when))
            # What was asked, not what it came to: a replay's `delay` counts from its own now.
            asked.append({name: str(entry[name]) for name in TIMING_FIELDS if entry.get(name) is not None})
        except serializers.ValidationError as error:
            errors[str(index)] = error.detail
    if errors:
        raise serializers.ValidationError({"jobs": errors})
    fingerprint = _batch_fingerprint(checked, asked) if idempotency_key else ""
    if idempotency_key:
        replayed = _replayed_batch(client, idempotency_key, fingerprint)
        if replayed is not None:
            return replayed
    try:
        with transaction.atomic():
            if caller is not None and caller.max_unfinished:
                caps.hold(caller, adding=len(checked))
            rows.insert_jobs(checked)
            jobs = checked
            if idempotency_key:
                IdempotencyKey.objects.create(
                    client=client, key=idempotency_key, fingerprint=fingerprint, job=jobs[0],
                    batch=[str(job.id) for job in jobs],
                )  # fmt: skip
            # Scheduled ones wait in PostgreSQL for the clock (jobs.execution.clock).
            pending = [job for job in jobs if job.status == JobStatus.PENDING]
            transaction.on_commit(partial(announce_many, jobs, new=True, enqueue=pending))
            return Batch(jobs)
    except IntegrityError:
        # A twin request with the same key committed first: its batch is the answer.
        replayed = _replayed_batch(client, idempotency_key, fingerprint)
        if replayed is None:
            raise
        return replayed


def _batch_fingerprint(jobs: list[Job], asked: list[dict]) -> str:
    pairs = zip(jobs, asked, strict=True)
    requests = [[job.type, job.params, job.callback_url, *([extra] if extra else [])] for job, extra in pairs]
    return hashlib.sha256(json.dumps(requests, sort_keys=True, default=str).encode()).hexdigest()


def _replayed_batch(client: str, key: str, fingerprint: str) -> Batch | None:
    fresh = timezone.now() - IDEMPOTENCY_KEY_TTL
    existing = IdempotencyKey.objects.filter(client=client, key=key, created_at__gte=fresh).first()
    if existing is None:
        return None
    if existing.fingerprint != fingerprint or existing.batch is None:
        raise IdempotencyKeyReused("this Idempotency-Key was used with different parameters; use a new key")
    found = Job.objects.in_bulk([*existing.batch])
    return Batch([found[job_id] for job_id in map(uuid.UUID, existing.batch) if job_id in found], replayed=True)


def _anonymous_priority(when: Timing, asked, anonymous: bool) -> Timing:
    """Anonymous jobs never run at high priority, which workers take first: asking for it is a
    400; a task whose own priority is high runs an anonymous caller's job at default."""
    if not anonymous or when.priority != Priority.HIGH:
        return when
    if asked.get("priority") == Priority.HIGH:
        raise serializers.ValidationError({"priority": ["high priority is for signed-in callers"]})
    return replace(when, priority=Priority.DEFAULT)


def _fingerprint(kind: str, params: dict, callback_url: str = "", asked: dict | None = None) -> str:
    # Without a callback or timing the fingerprint is what it always was: keys stored before stay valid.
    request = [kind, params, callback_url] if callback_url or asked else [kind, params]
    if asked:
        request.append(asked)
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _new_job(job_kind: registry.JobKind, params: dict, owner, client: str, callback_url: str, when: Timing) -> Job:
    return Job(
        type=job_kind.name, params=params, owner=owner, client=client, callback_url=callback_url,
        status=when.status, priority=when.priority, run_at=when.run_at,
    )  # fmt: skip


def _insert_job(job_kind: registry.JobKind, params: dict, owner, client: str, callback_url: str, when: Timing) -> Job:
    job = _new_job(job_kind, params, owner, client, callback_url, when)
    rows.insert_job(job)
    # After commit: a job rolled back by an idempotency race was never created.
    transaction.on_commit(partial(_announce_new, job))
    return job


def _announce_new(job: Job) -> None:
    """Log, enqueue and publish a committed new job, the publish in the enqueue's round trip
    (in one transaction: a worker cannot announce the job running before it is announced
    pending). A scheduled job waits in PostgreSQL until the clock (jobs.execution.clock) enqueues it."""
    log_change(job)
    if job.status != JobStatus.PENDING:
        events.publish(job, new=True)
        return
    carried = []
    if not queue.enqueue_job(job, also=partial(_publish_new, job, carried)) and any(carried):
        # The failed enqueue took the publish with it: watchers still learn of the job,
        # which the recovery sweep enqueues later.
        events.publish(job, new=True)


def _publish_new(job: Job, carried: list, pipeline) -> None:
    carried.append(events.publish(job, new=True, queue_pipeline=pipeline))
