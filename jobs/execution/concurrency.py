"""At most N jobs of a kind at once, across every worker and machine: slots kept in Redis.

Only kinds with a limit (jobs.registry.concurrency_limit) come here; every other job starts
without a look at any of this. A running job of a limited kind holds a lease: its RQ job id
in a sorted set per kind, scored with the time the lease runs out. The worker renews it
with its heartbeat (jobs.execution.worker) and gives it back when the run ends; a worker killed
mid-run stops renewing, and its lease runs out after LEASE_SECONDS.

A worker that takes an entry whose kind has no free slot parks it, in the same atomic step
that found the kind full: a list per kind beside the slots, out of every queue, so that the
worker goes on with other kinds' jobs and no worker spins on it. Its job stays `pending` and
its RQ entry `queued`. A slot given back wakes a parked entry (to the front of its queue);
so does the workers' clock (jobs.execution.clock), for slots freed by leases that ran out. Parked
entries live in Redis only: when Redis loses them, the recovery sweep enqueues their jobs
again, as for any pending job Redis does not hold.
"""

import time
from dataclasses import dataclass

from django.conf import settings

from bespin.lib.redis import queue_client
from jobs import registry
from jobs.execution import heartbeats

LEASE_SECONDS = heartbeats.TTL
_SLOTS_KEY = "bespin:slots:{kind}"
_PARKED_KEY = "bespin:slots:{kind}:parked"

# KEYS: slots, parked. ARGV: now, lease expiry, limit, lease member, parked entry.
_ACQUIRE_OR_PARK = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
    return 1
end
redis.call('RPUSH', KEYS[2], ARGV[5])
return 0
"""

# KEYS: slots, parked. ARGV: now, limit, the lease given back ('' for none). Wakes as many
# parked entries as there are free slots, oldest first, each to the front of its queue.
_RELEASE_AND_WAKE = """
if ARGV[3] ~= '' then redis.call('ZREM', KEYS[1], ARGV[3]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local woken = 0
while woken < free do
    local entry = redis.call('LPOP', KEYS[2])
    if not entry then break end
    local space = string.find(entry, ' ', 1, true)
    redis.call('LPUSH', string.sub(entry, 1, space - 1), string.sub(entry, space + 1))
    woken = woken + 1
end
return woken
"""


def slots_key(kind: str) -> str:
    return _SLOTS_KEY.format(kind=kind)


def parked_key(kind: str) -> str:
    return _PARKED_KEY.format(kind=kind)


def parked_entry(queue_key: str, rq_job_id: str) -> str:
    """How a parked entry is written in its kind's list: its queue's key and its RQ job id."""
    return f"{queue_key} {rq_job_id}"


def limited_kinds() -> dict[str, int]:
    """Every kind with a limit, and the limit."""
    names = {*registry.registered(), *settings.MAX_CONCURRENCY}
    return {name: limit for name in sorted(names) if (limit := registry.concurrency_limit(name))}


@dataclass(frozen=True)
class Lease:
    kind: str
    member: str
    limit: int


def acquire_or_park(*, kind: str, limit: int, rq_job_id: str, queue_key: str, connection=None) -> Lease | None:
    """A slot of `kind` for the RQ job `rq_job_id`, or None when all `limit` are held, in
    which case the entry is parked (one round trip either way)."""
    now = time.time()
    taken = (connection or queue_client()).eval(
        _ACQUIRE_OR_PARK, 2, slots_key(kind), parked_key(kind),
        now, now + LEASE_SECONDS, limit, rq_job_id, parked_entry(queue_key, rq_job_id),
    )  # fmt: skip
    return Lease(kind=kind, member=rq_job_id, limit=limit) if taken else None


def release(lease: Lease, *, connection=None) -> int:
    """Give the slot back and wake parked entries for every free slot; how many woke."""
    return _release_and_wake(lease.kind, lease.limit, lease.member, connection)


def wake_parked(*, connection=None) -> int:
    """Wake parked entries of every limited kind for the slots free now, leases that ran
    out included (the workers' clock calls it); how many woke."""
    return sum(_release_and_wake(kind, limit, "", connection) for kind, limit in limited_kinds().items())


def _release_and_wake(kind: str, limit: int, member: str, connection) -> int:
    return (connection or queue_client()).eval(
        _RELEASE_AND_WAKE, 2, slots_key(kind), parked_key(kind), time.time(), limit, member
    )


def renew(pipe, *, lease: Lease) -> None:
    """Add the renewal of `lease` to a heartbeat's pipeline: held for LEASE_SECONDS more."""
    pipe.zadd(slots_key(lease.kind), {lease.member: time.time() + LEASE_SECONDS})


@dataclass(frozen=True)
class Slots:
    kind: str
    limit: int
    in_use: int
    waiting: int


def slots_in_use() -> list[Slots]:
    """Per limited kind: its limit, the leases not run out and the entries parked; one round
    trip, none at all when no kind has a limit."""
    limited = limited_kinds()
    if not limited:
        return []
    pipe = queue_client().pipeline(transaction=False)
    now = time.time()
    for kind in limited:
        pipe.zcount(slots_key(kind), now, "+inf")
        pipe.llen(parked_key(kind))
    answers = pipe.execute()
    return [
        Slots(kind=kind, limit=limit, in_use=in_use, waiting=waiting)
        for (kind, limit), in_use, waiting in zip(limited.items(), answers[0::2], answers[1::2], strict=True)
    ]
