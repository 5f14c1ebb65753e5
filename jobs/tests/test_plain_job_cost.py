"""Scheduling, priorities and concurrency limits cost nothing to a job that uses none of them:
creating one is one INSERT and one pipelined enqueue, running it two UPDATEs, and the worker
asks Redis nothing about slots for a kind without a limit."""

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import concurrency, creation, tasks

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
    creation.create_job(kind="random_text", params={"length": 1})  # RQ's first-use lookups
    redis_round_trips.clear()
    with CaptureQueriesContext(connection) as created:
        job = creation.create_job(kind="random_text", params={"length": 5})
    enqueued = list(redis_round_trips)
    redis_round_trips.clear()
    with CaptureQueriesContext(connection) as ran:
        tasks.run_job(str(job.id), job.attempt, job.type)
    assert [q["sql"].split()[0] for q in created.captured_queries] == ["INSERT"]
    # RQ's own two: the queue's registration and the job's hash with its push, as before.
    assert len(enqueued) == 2 and enqueued[-1].endswith("RPUSH"), enqueued
    assert [q["sql"].split()[0] for q in ran.captured_queries] == ["UPDATE", "UPDATE"]
    assert redis_round_trips == []


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
