"""Nothing stuck, nothing lost: workers killed mid-job, Redis emptied or restarted under
pending jobs, a burst submitted while workers die. Real processes, real signals."""

import asyncio
import json
import threading
import time
from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from jobs import events, heartbeats, lifecycle, queue, recovery
from jobs.kinds import sleep
from jobs.models import Job, JobStatus
from jobs.tests.processes import Processes, free_port, post_json, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def processes(tmp_path):
    started = Processes(tmp_path, BESPIN_ENQUEUE_GRACE="1")
    yield started
    started.stop_all()


def _status(job_id) -> tuple[str, int]:
    return tuple(Job.objects.filter(id=job_id).values_list("status", "attempt").get())


def _all_final(job_ids) -> bool:
    return not Job.objects.filter(id__in=job_ids, status__in=[JobStatus.PENDING, JobStatus.RUNNING]).exists()


def test_job_of_a_killed_worker_is_requeued_and_finished(processes, capsys, settled_redis):
    doomed = processes.worker()
    # Long enough to outlast the survivor's start on a busy machine; the test ends once the
    # survivor runs the second attempt.
    job = lifecycle.create_job(kind="sleep", params={"seconds": 60})
    wait_for(lambda: _status(job.id) == ("running", 1), 20, message="the job to start")
    survivor = processes.worker()  # its recovery sweep finds the lost job; it then runs it
    Processes.kill(doomed)
    killed_at = time.monotonic()
    wait_for(lambda: _status(job.id)[1] == 2, 20, 0.02, "the lost job to be re-queued")
    recovered_after = time.monotonic() - killed_at
    job.refresh_from_db()
    assert job.lost_count == 1
    assert job.error.startswith("worker lost")
    wait_for(lambda: _status(job.id) == ("running", 2), 20, message="the survivor to run the second attempt")
    assert survivor.poll() is None
    lifecycle.cancel_job(job=Job.objects.get(id=job.id))  # lets the survivor stop at once
    assert recovered_after < heartbeats.TTL + 2 * 2 + 1
    with capsys.disabled():
        print(f"\nworker SIGKILLed -> job re-queued in {recovered_after:.2f} s")


@pytest.fixture
def unsafe_kind(register_kind):
    return register_kind("charge_card", sleep.sleep, params_serializer=sleep.SleepParams)


def _mark_running(job, worker_name="gone-worker", age=60, **extra):
    """Put the job in the state a worker leaves it in when it dies `age` seconds into the run."""
    started_at = timezone.now() - timedelta(seconds=age)
    Job.objects.filter(id=job.id).update(
        status=JobStatus.RUNNING, worker_name=worker_name, started_at=started_at, **extra
    )


def _listen_during(group: str, action) -> list[dict]:
    received, ready = [], threading.Event()

    async def listen():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        ready.set()
        try:
            while True:
                received.append((await asyncio.wait_for(layer.receive(channel), timeout=2))["message"])
        except TimeoutError:
            pass

    listener = threading.Thread(target=asyncio.run, args=(listen(),))
    listener.start()
    ready.wait(5)
    action()
    listener.join(10)
    return received


@pytest.fixture
def settled_redis(redis_conn):
    """Redis that has held Bespin's keys long enough for heartbeats to be trusted."""
    redis_conn.set(recovery.EPOCH_KEY, time.time() - 60)


def test_lost_job_of_a_kind_unsafe_to_rerun_fails_and_watchers_are_told(unsafe_kind, settled_redis):
    job = lifecycle.create_job(kind="charge_card", params={"seconds": 1})
    _mark_running(job)
    messages = _listen_during(events.job_group(job.id), recovery.recover_jobs)
    job.refresh_from_db()
    assert (job.status, job.error, job.attempt) == (JobStatus.FAILED, recovery.LOST_ERROR, 1)
    assert [m["status"] for m in messages] == ["failed"]
    assert messages[0]["error"] == recovery.LOST_ERROR


def test_a_job_lost_too_often_is_failed_even_if_safe_to_rerun(settled_redis):
    job = lifecycle.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job, lost_count=recovery.MAX_LOST - 1)
    recovery.recover_jobs()
    job.refresh_from_db()
    assert (job.status, job.error, job.lost_count) == (JobStatus.FAILED, recovery.LOST_ERROR, recovery.MAX_LOST)


def test_running_job_with_a_live_heartbeat_is_left_alone(redis_conn, settled_redis):
    job = lifecycle.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job, worker_name="busy-worker")
    heartbeats.beat("busy-worker", queue.rq_job_id(job))
    report = recovery.recover_jobs()
    assert _status(job.id) == ("running", 1)
    assert not report.requeued_lost and not report.failed_lost


def test_running_job_whose_live_worker_has_moved_on_is_recovered(redis_conn, settled_redis, unsafe_kind):
    # The run ended without its final write reaching PostgreSQL; the worker lives on.
    job = lifecycle.create_job(kind="charge_card", params={"seconds": 1})
    _mark_running(job, worker_name="busy-worker")
    heartbeats.beat("busy-worker")
    recovery.recover_jobs()
    assert _status(job.id) == ("failed", 1)


def test_just_flushed_redis_does_not_make_live_workers_look_dead(redis_conn):
    # FLUSHDB takes every heartbeat with it; the sweep waits until workers wrote theirs again.
    job = lifecycle.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job, worker_name="busy-worker")
    recovery.recover_jobs()
    assert _status(job.id) == ("running", 1)


def test_just_started_job_is_given_time_for_a_first_heartbeat(settled_redis):
    job = lifecycle.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job, age=0)
    recovery.recover_jobs()
    assert _status(job.id) == ("running", 1)


def test_pending_jobs_lost_from_redis_are_enqueued_again(processes, redis_conn):
    job_ids = [lifecycle.create_job(kind="random_text", params={"length": 10}).id for _ in range(10)]
    redis_conn.flushdb()
    processes.worker()
    wait_for(lambda: _all_final(job_ids), 30, message="every pending job to run")
    assert Job.objects.filter(id__in=job_ids, status=JobStatus.COMPLETED).count() == 10


def test_pending_job_still_on_the_queue_is_not_enqueued_twice(queue, settings):
    settings.ENQUEUE_GRACE_SECONDS = 0
    job = lifecycle.create_job(kind="random_text", params={"length": 3})
    assert recovery.recover_jobs().reenqueued == []
    assert queue.job_ids == [queue.rq_job_id(job)]


def test_pending_job_whose_queue_entry_is_gone_is_enqueued_again(queue, redis_conn, settings):
    # The job's RQ hash still says queued, but the queue list lost it.
    settings.ENQUEUE_GRACE_SECONDS = 0
    job = lifecycle.create_job(kind="random_text", params={"length": 3})
    redis_conn.delete(queue.key)
    assert [j.id for j in recovery.recover_jobs().reenqueued] == [job.id]
    assert queue.job_ids == [queue.rq_job_id(job)]


def test_recover_jobs_command_reports_what_it_did(redis_conn, capsys, settings):
    settings.ENQUEUE_GRACE_SECONDS = 0
    job = lifecycle.create_job(kind="random_text", params={"length": 3})
    redis_conn.flushdb()
    call_command("recover_jobs")
    assert "pending jobs enqueued again: 1" in capsys.readouterr().out
    assert queue.rq_job_id(job) in queue.rq_queue().job_ids


def test_jobs_survive_a_redis_restart(tmp_path):
    port = free_port()
    processes = Processes(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0", BESPIN_ENQUEUE_GRACE="1")
    try:
        redis = processes.redis(port)
        base = processes.web()
        processes.worker()
        processes.worker()
        body = json.dumps({"type": "sleep", "params": {"seconds": 0.3}}).encode()
        job_ids = [post_json(base, "/api/jobs", body)["id"] for _ in range(20)]
        time.sleep(1)
        Processes.kill(redis)  # everything queued is gone with it
        processes.redis(port)
        wait_for(lambda: _all_final(job_ids), 90, 0.2, "every job to finish after the restart")
        counts = dict(Job.objects.filter(id__in=job_ids).values_list("status").annotate(n=Count("id")))
    finally:
        processes.stop_all()
    assert counts == {"completed": 20}, counts


def test_a_burst_submitted_while_workers_are_killed_all_finishes(processes):
    base = processes.web()
    workers = [processes.worker(), processes.worker()]
    body = json.dumps({"type": "sleep", "params": {"seconds": 0.2}}).encode()
    job_ids, lock = [], threading.Lock()

    def submit(n):
        for _ in range(n):
            job_id = post_json(base, "/api/jobs", body)["id"]
            with lock:
                job_ids.append(job_id)

    clients = [threading.Thread(target=submit, args=(5,)) for _ in range(8)]
    for client in clients:
        client.start()
    wait_for(lambda: Job.objects.filter(status=JobStatus.RUNNING).exists(), 20, message="a job to run")
    Processes.kill(workers[0])
    time.sleep(0.5)
    Processes.kill(workers[1])
    for client in clients:
        client.join(30)
    processes.worker()
    processes.worker()
    wait_for(lambda: _all_final(job_ids), 90, 0.2, "every job to reach a final state")
    statuses = list(Job.objects.filter(id__in=job_ids).values_list("status", flat=True))
    assert len(job_ids) == 40 and len(statuses) == 40
    assert statuses.count(JobStatus.COMPLETED) == 40, statuses
