"""Scheduling, priorities and concurrency limits cost nothing to a job that uses none of them:
creating one is one INSERT and one round trip to Redis (its enqueue and publish), running it
two UPDATEs and two publishes, and the worker asks Redis nothing about slots for a kind
without a limit."""

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rq.job import Job as RQJob

from jobs.execution import concurrency, entrypoint, queue
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Every round trip to Redis from this process: a command, or a pipeline's batch."""
    trips: list[str] = []
    command, pipeline = redis.Redis.execute_command, redis.client.Pipeline.execute

    def counted_command(self, *args, **options):
        if not isinstance(self, redis.client.Pipeline):
            trips.append(str(args[0]))
        return command(self, *args, **options)

    def counted_pipeline(self, *args, **options):
        trips.append("pipeline:" + ",".join(str(queued[0][0]) for queued in self.command_stack))
        return pipeline(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted_command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", counted_pipeline)
    return trips


def test_a_plain_job_is_one_insert_and_one_enqueue_then_two_updates(redis_round_trips):
    creation.create_job(kind="random_text", params={"length": 1})  # first-use connections
    redis_round_trips.clear()
    with CaptureQueriesContext(connection) as created:
        job = creation.create_job(kind="random_text", params={"length": 5})
    enqueued = list(redis_round_trips)
    redis_round_trips.clear()
    with CaptureQueriesContext(connection) as ran:
        entrypoint.run_job(str(job.id), job.attempt, job.type)
    assert [q["sql"].split()[0] for q in created.captured_queries] == ["INSERT"]
    # One transaction: the queue's registration, the entry's hash and its push, and the
    # publish to the site's watchers; a run publishes twice to the job's and the site's.
    assert enqueued == ["pipeline:SADD,HSET,RPUSH,PUBLISH"], enqueued
    assert [q["sql"].split()[0] for q in ran.captured_queries] == ["UPDATE", "UPDATE"]
    assert redis_round_trips == ["pipeline:PUBLISH,PUBLISH", "pipeline:PUBLISH,PUBLISH"]


def test_the_worker_never_looks_at_slots_for_a_kind_without_a_limit(run_worker, monkeypatch, settings):
    settings.MAX_CONCURRENCY = {}

    def refused(**kwargs):
        raise AssertionError(f"a slot was asked for: {kwargs}")

    monkeypatch.setattr(concurrency, "acquire_or_park", refused)
    monkeypatch.setattr(concurrency, "release", refused)
    job = creation.create_job(kind="random_text", params={"length": 3})
    run_worker()
    job.refresh_from_db()
    assert job.status == "completed"


def test_an_entry_is_what_rqs_own_enqueue_writes(redis_conn):
    """Bespin writes its entries itself, in one round trip: each field must be what RQ's
    `Queue.enqueue` writes for the same call, so that RQ's workers and tools read them."""
    job = creation.create_job(kind="random_text", params={"length": 5})
    key, rq_queue = RQJob.key_for(queue.rq_job_id(job)), queue.queue_of(job)

    def written() -> tuple:
        """The entry's hash, its time to live, the queue's list and the registry of queues."""
        found = (
            redis_conn.hgetall(key),
            redis_conn.ttl(key),
            rq_queue.job_ids,
            redis_conn.smembers(rq_queue.redis_queues_keys),
        )
        redis_conn.delete(key, rq_queue.key, rq_queue.redis_queues_keys)
        return found

    ours = written()
    options = {**queue._options(job), "job_timeout": queue._timeout(job)}
    rq_queue.enqueue(queue.TASK, *queue._args(job), **options)
    theirs = written()
    stamps = {b"created_at", b"enqueued_at"}
    assert stamps <= ours[0].keys()
    assert {k: v for k, v in ours[0].items() if k not in stamps} == {
        k: v for k, v in theirs[0].items() if k not in stamps
    }
    assert ours[1:] == theirs[1:] == (-1, [queue.rq_job_id(job)], {rq_queue.key.encode()})
    redis_conn.hset(key, mapping=ours[0])
    fetched = RQJob.fetch(queue.rq_job_id(job), connection=redis_conn)
    assert (fetched.func_name, fetched.args, fetched.timeout) == (queue.TASK, (str(job.id), 1, "random_text"), 60)
