"""Nothing stuck, nothing lost: workers killed mid-job, Redis emptied or restarted under
pending jobs, a burst submitted while workers die. Real processes, real signals."""

import json
import signal
import threading
import time
from datetime import timedelta
from functools import partial

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone
from rq.job import Job as RQJob

from bespin.testing import tasks
from bespin.testing.listening import messages_during
from bespin.testing.processes import Processes, free_port, post_json, wait_for
from jobs import events
from jobs.execution import heartbeats, queue, recovery
from jobs.execution.queue import rq_job_id
from jobs.models import Job, JobStatus
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db(transaction=True)


# The bursts here come from one anonymous client, past its cap on unfinished jobs.
UNCAPPED = {"BESPIN_ANON_MAX_UNFINISHED": "0"}
# What the processes this module starts run with (the `processes` fixture).
PROCESS_ENV = {"BESPIN_ENQUEUE_GRACE": "1", **UNCAPPED}


def _status(job_id) -> tuple[str, int]:
    return tuple(Job.objects.filter(id=job_id).values_list("status", "attempt").get())


def _all_final(job_ids) -> bool:
    return not Job.objects.filter(id__in=job_ids, status__in=[JobStatus.PENDING, JobStatus.RUNNING]).exists()


def _running(job_ids) -> bool:
    return Job.objects.filter(id__in=job_ids, status=JobStatus.RUNNING).exists()


def _running_on(worker) -> bool:
    return Job.objects.filter(status=JobStatus.RUNNING, worker_name=worker.worker_name).exists()


def test_a_worker_asked_to_stop_finishes_its_job_first(processes, redis_conn):
    worker = processes.worker()
    job = creation.create_job(kind="sleep", params={"seconds": 2})
    wait_for(lambda: _status(job.id) == ("running", 1), 20, message="the job to start")
    # RQ's own view of the worker (`rq info`), kept by the heartbeat.
    state = partial(redis_conn.hget, f"rq:worker:{worker.worker_name}", "state")
    wait_for(lambda: state() == b"busy", 5, message="RQ's worker key to say busy")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert _status(job.id) == ("completed", 1)


def test_job_of_a_killed_worker_is_requeued_and_finished(processes, redis_conn, capsys, settled_redis):
    doomed = processes.worker()
    # Long enough to outlast the survivor's start on a busy machine; the test ends once the
    # survivor runs the second attempt.
    job = creation.create_job(kind="sleep", params={"seconds": 60})
    wait_for(lambda: _status(job.id) == ("running", 1), 20, message="the job to start")
    survivor = processes.worker()  # its recovery sweep finds the lost job; it then runs it
    beat_before = redis_conn.zscore(heartbeats.WORKERS_KEY, doomed.worker_name)
    Processes.kill(doomed)
    killed_at = time.monotonic()
    # Until when the killed worker's last heartbeat said it was alive (and running the job).
    vouched_until = redis_conn.zscore(heartbeats.WORKERS_KEY, doomed.worker_name) or beat_before
    assert vouched_until, "the killed worker had no heartbeat"
    wait_for(lambda: _status(job.id)[1] == 2, 30, 0.02, "the lost job to be re-queued")
    recovered_after = time.monotonic() - killed_at
    job.refresh_from_db()
    assert job.lost_count == 1
    assert job.error.startswith("worker lost")
    wait_for(lambda: _status(job.id) == ("running", 2), 30, message="the survivor to run the second attempt")
    second = Job.objects.get(id=job.id)
    assert second.worker_name == survivor.worker_name != doomed.worker_name
    # Taken away only once the killed worker's heartbeat had run out, never while it still
    # said it was running the job.
    assert second.started_at.timestamp() >= vouched_until
    assert survivor.poll() is None
    lifecycle.cancel_job(job=second)  # lets the survivor stop at once
    with capsys.disabled():
        print(f"\nworker SIGKILLed -> job re-queued in {recovered_after:.2f} s")


@pytest.fixture
def unsafe_kind(register_task):
    return register_task(tasks.charge_card, "charge_card")


def _mark_running(job, worker_name="gone-worker", age=60, **extra):
    """Put the job in the state a worker leaves it in when it dies `age` seconds into the run."""
    started_at = timezone.now() - timedelta(seconds=age)
    Job.objects.filter(id=job.id).update(
        status=JobStatus.RUNNING, worker_name=worker_name, started_at=started_at, **extra
    )


@pytest.fixture
def settled_redis(redis_conn):
    """Redis that has held Bespin's keys long enough for heartbeats to be trusted."""
    redis_conn.set(recovery.EPOCH_KEY, time.time() - 60)


def test_lost_job_of_a_kind_unsafe_to_rerun_fails_and_watchers_are_told(unsafe_kind, settled_redis):
    job = creation.create_job(kind="charge_card", params={"seconds": 1})
    _mark_running(job)
    messages = messages_during(events.job_group(job.id), recovery.recover_jobs)
    job.refresh_from_db()
    assert (job.status, job.error, job.attempt) == (JobStatus.FAILED, recovery.LOST_ERROR, 1)
    assert [m["status"] for m in messages] == ["failed"]
    assert messages[0]["error"] == recovery.LOST_ERROR


def test_a_job_lost_too_often_is_failed_even_if_safe_to_rerun(settled_redis):
    job = creation.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job, lost_count=recovery.MAX_LOST - 1)
    recovery.recover_jobs()
    job.refresh_from_db()
    assert (job.status, job.error, job.lost_count) == (JobStatus.FAILED, recovery.LOST_ERROR, recovery.MAX_LOST)


def test_running_job_with_a_live_heartbeat_is_left_alone(redis_conn, settled_redis):
    job = creation.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job, worker_name="busy-worker")
    heartbeats.beat("busy-worker", rq_job_id(job))
    report = recovery.recover_jobs()
    assert _status(job.id) == ("running", 1)
    assert not report.requeued_lost and not report.failed_lost


def test_running_job_whose_live_worker_has_moved_on_is_recovered(redis_conn, settled_redis, unsafe_kind):
    # The run ended without its final write reaching PostgreSQL; the worker lives on.
    job = creation.create_job(kind="charge_card", params={"seconds": 1})
    _mark_running(job, worker_name="busy-worker")
    heartbeats.beat("busy-worker")
    recovery.recover_jobs()
    assert _status(job.id) == ("failed", 1)


def test_just_flushed_redis_does_not_make_live_workers_look_dead(redis_conn):
    # FLUSHDB takes every heartbeat with it; the sweep waits until workers wrote theirs again.
    job = creation.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job, worker_name="busy-worker")
    recovery.recover_jobs()
    assert _status(job.id) == ("running", 1)


def test_just_started_job_is_given_time_for_a_first_heartbeat(settled_redis):
    job = creation.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job, age=0)
    recovery.recover_jobs()
    assert _status(job.id) == ("running", 1)


def test_pending_jobs_lost_from_redis_are_enqueued_again(processes, redis_conn):
    job_ids = [creation.create_job(kind="random_text", params={"length": 10}).id for _ in range(10)]
    redis_conn.flushdb()
    processes.worker()
    wait_for(lambda: _all_final(job_ids), 30, message="every pending job to run")
    assert Job.objects.filter(id__in=job_ids, status=JobStatus.COMPLETED).count() == 10


def test_pending_job_still_on_the_queue_is_not_enqueued_twice(queue, settings):
    settings.ENQUEUE_GRACE_SECONDS = 0
    job = creation.create_job(kind="random_text", params={"length": 3})
    assert recovery.recover_jobs().reenqueued == []
    assert queue.job_ids == [rq_job_id(job)]


def test_pending_job_whose_queue_entry_is_gone_is_enqueued_again(queue, redis_conn, settings):
    # The job's RQ hash still says queued, but the queue list lost it.
    settings.ENQUEUE_GRACE_SECONDS = 0
    job = creation.create_job(kind="random_text", params={"length": 3})
    redis_conn.delete(queue.key)
    assert [j.id for j in recovery.recover_jobs().reenqueued] == [job.id]
    assert queue.job_ids == [rq_job_id(job)]


def test_a_pending_job_a_worker_takes_and_starts_during_the_sweep_is_not_enqueued_again(queue, redis_conn, settings):
    # A worker's entries never show RQ's "started": between the sweep's read of the pending
    # jobs and its look at Redis, a worker popped this one and started it.
    settings.ENQUEUE_GRACE_SECONDS = 0
    job = creation.create_job(kind="random_text", params={"length": 3})

    def taken_meanwhile():
        redis_conn.lpop(queue.key)
        lifecycle.start_job(job_id=job.id, attempt=job.attempt, worker_name="fast-worker")

    assert recovery.recover_jobs(meanwhile=taken_meanwhile).reenqueued == []
    assert queue.job_ids == []


def test_the_queue_entry_of_a_lost_run_goes_with_it(settled_redis, redis_conn):
    job = creation.create_job(kind="sleep", params={"seconds": 1})
    _mark_running(job)
    assert redis_conn.exists(RQJob.key_for(rq_job_id(job)))
    recovery.recover_jobs()
    assert _status(job.id) == ("pending", 2)
    assert not redis_conn.exists(RQJob.key_for(f"{job.id}_1"))
    assert redis_conn.exists(RQJob.key_for(f"{job.id}_2"))


def test_recover_jobs_command_reports_what_it_did(redis_conn, capsys, settings):
    settings.ENQUEUE_GRACE_SECONDS = 0
    job = creation.create_job(kind="random_text", params={"length": 3})
    redis_conn.flushdb()
    call_command("recover_jobs")
    assert "pending jobs enqueued again: 1" in capsys.readouterr().out
    assert rq_job_id(job) in queue.rq_queue().job_ids


def test_jobs_survive_a_redis_restart(tmp_path):
    port = free_port()
    processes = Processes(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0", BESPIN_ENQUEUE_GRACE="1", **UNCAPPED)
    try:
        redis = processes.redis(port)
        base = processes.web()
        processes.worker()
        processes.worker()
        body = json.dumps({"type": "sleep", "params": {"seconds": 0.3}}).encode()
        job_ids = [post_json(base, "/api/jobs", body)["id"] for _ in range(20)]
        # Workers at work and the rest of the jobs waiting in Redis's queue when it goes.
        wait_for(lambda: _running(job_ids), 30, message="a job to run")
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

    clients = [threading.Thread(target=submit, args=(5,), daemon=True) for _ in range(8)]
    for client in clients:
        client.start()
    # Each worker is killed in the middle of a job, one after the other.
    for worker in workers:
        wait_for(partial(_running_on, worker), 30, message=f"a job to run on worker {worker.worker_name}")
        Processes.kill(worker)
    for client in clients:
        client.join(60)
        assert not client.is_alive(), "a client is still submitting"
    processes.worker()
    processes.worker()
    wait_for(lambda: _all_final(job_ids), 90, 0.2, "every job to reach a final state")
    statuses = list(Job.objects.filter(id__in=job_ids).values_list("status", flat=True))
    assert len(job_ids) == 40 and len(statuses) == 40
    assert statuses.count(JobStatus.COMPLETED) == 40, statuses
