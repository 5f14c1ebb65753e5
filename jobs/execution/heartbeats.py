"""Which workers are alive, and which RQ job each one runs, kept in Redis.

Each worker writes its heartbeat every INTERVAL seconds: its name in a sorted set scored
with the time the beat runs out (now + TTL), and the RQ job it runs in a hash. A worker is
alive while its score is in the future. Counting the live ones is one ZCOUNT, however many
keys Redis holds; the recovery sweep removes the entries of dead workers.
"""

import time

from bespin.lib.redis import queue_client

WORKERS_KEY = "bespin:workers"
RUNNING_KEY = "bespin:workers:running"
INTERVAL = 1.0
TTL = 5
# What a worker that runs no job writes as its job.
IDLE = "-"


def beat(worker_name: str, running: str = IDLE, *, connection=None, also=None) -> None:
    """Say that `worker_name` is alive for TTL more seconds and runs RQ job `running`;
    `also(pipe)` adds more to the same round trip (a concurrency slot's renewal)."""
    pipe = (connection or queue_client()).pipeline(transaction=False)
    pipe.zadd(WORKERS_KEY, {worker_name: time.time() + TTL})
    pipe.hset(RUNNING_KEY, worker_name, running)
    if also is not None:
        also(pipe)
    pipe.execute()


def forget(worker_name: str, *, connection=None) -> None:
    """A worker that stops cleanly takes its heartbeat with it."""
    pipe = (connection or queue_client()).pipeline(transaction=False)
    pipe.zrem(WORKERS_KEY, worker_name)
    pipe.hdel(RUNNING_KEY, worker_name)
    pipe.execute()


def live_count() -> int:
    return queue_client().zcount(WORKERS_KEY, time.time(), "+inf")


def running(worker_names: list[str]) -> dict[str, str | None]:
    """The RQ job each named worker runs (IDLE when none), or None for a worker that is dead."""
    if not worker_names:
        return {}
    pipe = queue_client().pipeline(transaction=False)
    pipe.zmscore(WORKERS_KEY, worker_names)
    pipe.hmget(RUNNING_KEY, worker_names)
    scores, jobs = pipe.execute()
    now = time.time()
    return {
        name: (job.decode() if job is not None else IDLE) if score is not None and score > now else None
        for name, score, job in zip(worker_names, scores, jobs, strict=True)
    }


# Atomic, so that a worker beating again between the read and the removal keeps its entry.
_PRUNE = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #dead > 0 then
    redis.call('ZREM', KEYS[1], unpack(dead))
    redis.call('HDEL', KEYS[2], unpack(dead))
end
return #dead
"""


def prune() -> int:
    """Remove the entries of workers whose heartbeat ran out; how many went."""
    return queue_client().eval(_PRUNE, 2, WORKERS_KEY, RUNNING_KEY, time.time())
