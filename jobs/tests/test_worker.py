import signal
import threading
import types

import psycopg
import pytest
from django.db import connection
from rq.job import Job as RQJob
from rq.registry import FailedJobRegistry, StartedJobRegistry

from bespin.testing import tasks
from bespin.testing.listening import messages_during
from bespin.testing.processes import database_url_for_tests
from bespin.testing.signals import signal_handlers_kept
from jobs import events
from jobs import tasks as builtin_tasks
from jobs.execution import heartbeats, queue, runner
from jobs.execution import worker as worker_module
from jobs.execution.queue import rq_job_id
from jobs.execution.worker import BespinWorker
from jobs.models import JobStatus
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db(transaction=True)


def test_real_worker_runs_random_text_to_completed(run_worker):
    job = creation.create_job(kind="random_text", params={"length": 100})
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    words = job.result.split(" ")
    assert len(words) == 100
    assert set(words) <= set(builtin_tasks.VOCABULARY)
    assert job.progress == 100
    assert job.started_at <= job.finished_at
    assert job.worker_name


def test_handler_that_raises_leaves_job_failed_with_its_error(run_worker, failing_kind):
    job = creation.create_job(kind="boom", params={})
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "RuntimeError: disk on fire"
    assert job.result is None
    assert job.finished_at is not None


def test_a_job_run_leaves_nothing_of_its_queue_entry_in_redis(run_worker, queue):
    job = creation.create_job(kind="random_text", params={"length": 5})
    entry = RQJob.key_for(rq_job_id(job))
    assert queue.connection.exists(entry)
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert not queue.connection.exists(entry)
    assert StartedJobRegistry(queue=queue).get_job_ids() == []
    assert FailedJobRegistry(queue=queue).get_job_ids() == []


def test_a_worker_of_one_queue_leaves_nothing_in_its_intermediate_list(run_worker):
    job = creation.create_job(kind="random_text", params={"length": 5}, timing={"priority": "high"})
    high = queue.rq_queue("high")
    worker = run_worker(high)  # one queue: RQ takes its entries with LMOVE, into a list of its own
    assert [q.name for q in worker.queues] == ["high"]
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert high.connection.llen(high.intermediate_queue_key) == 0


def test_an_error_outside_the_handler_is_kept_by_rq_and_the_row_left_to_the_sweep(run_worker, queue):
    job = creation.create_job(kind="random_text", params={"length": 5})
    # A real fault: PostgreSQL drops every connection of the test database (as a restart or
    # a failover does) before the worker claims the job.
    with psycopg.connect(database_url_for_tests(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    run_worker()
    # The test's own connections were dropped too: a fresh pool for its own reads.
    connection.close()
    connection.close_pool()
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert FailedJobRegistry(queue=queue).get_job_ids() == [rq_job_id(job)]
    assert "OperationalError" in RQJob.fetch(rq_job_id(job), connection=queue.connection).exc_info


def test_a_job_runs_once_even_if_enqueued_twice(run_worker, register_task, queue):
    calls = tasks.CALLS
    calls.clear()
    register_task(tasks.counted, "counted")
    job = creation.create_job(kind="counted", params={})
    queue.enqueue("jobs.execution.entrypoint.run_job", str(job.id))  # a second RQ job for the same Bespin job
    assert queue.count == 2
    run_worker()
    job.refresh_from_db()
    assert (job.status, len(calls)) == (JobStatus.COMPLETED, 1)


def test_an_entry_queued_by_an_earlier_bespin_under_its_old_name_is_run(run_worker, queue):
    job = creation.create_job(kind="random_text", params={"length": 3})
    queue.empty()
    queue.enqueue("jobs.tasks.run_job", str(job.id), job.attempt, job.type, job_id=rq_job_id(job), result_ttl=0)
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and len(job.result.split(" ")) == 3
    assert not FailedJobRegistry(queue=queue).get_job_ids()


def test_a_result_postgresql_refuses_fails_the_job_instead_of_leaving_it_running(run_worker, register_task):
    register_task(tasks.nul, "nul")
    job = creation.create_job(kind="nul", params={})
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("result could not be stored: ")


def test_a_job_that_is_no_longer_pending_is_not_run(run_worker):
    job = creation.create_job(kind="random_text", params={"length": 5})
    lifecycle.cancel_job(job=job)
    queue.enqueue_job(job)  # a stale queue entry for it, as a lost cancel would leave
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.result is None


def test_long_text_reports_progress_to_watchers(run_worker, monkeypatch):
    monkeypatch.setattr(runner, "PROGRESS_INTERVAL", 0)
    job = creation.create_job(kind="random_text", params={"length": 100_000})
    # The worker runs in this (the main) thread, where RQ wants it for its signal handlers.
    messages = messages_during(events.job_group(job.id), run_worker)
    statuses = [m["status"] for m in messages]
    assert statuses[0] == JobStatus.RUNNING and statuses[-1] == JobStatus.COMPLETED
    progress = [m["progress"] for m in messages if m["status"] == JobStatus.RUNNING]
    assert len(progress) >= 5
    assert progress == sorted(progress)
    assert len(messages[-1]["result"].split(" ")) == 100_000


def test_a_stop_asked_while_the_worker_starts_its_threads_leaves_before_any_job(queue, monkeypatch):
    """SIGTERM just after the heartbeat thread starts, before RQ installs its own handlers
    (`manage.py rqworker` stopped as it starts): a warm stop that runs no job and takes the
    heartbeat along, not the default action, which would end the process with its heartbeat
    left behind for the sweep to judge it lost."""
    job = creation.create_job(kind="random_text", params={"length": 3})
    started = []

    class SignalledOnFirstStart(threading.Thread):
        def start(self):
            super().start()
            started.append(self.name)
            if len(started) == 1:
                signal.raise_signal(signal.SIGTERM)  # handled in this thread, before the next line

    # Only the worker's own threads: every other thread of the process starts as usual.
    worker_threading = types.SimpleNamespace(Thread=SignalledOnFirstStart, Event=threading.Event, Lock=threading.Lock)
    monkeypatch.setattr(worker_module, "threading", worker_threading)
    default_action = []
    worker = BespinWorker([queue], connection=queue.connection)
    with signal_handlers_kept():
        # Stands for the default action, which would end the test process.
        signal.signal(signal.SIGTERM, lambda signum, frame: default_action.append(signum))
        worked = worker.work(burst=True, logging_level="WARNING")
    assert started and started[0] == "bespin-heartbeat"
    assert default_action == []
    assert worked is False
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert rq_job_id(job) in queue.get_job_ids()
    assert queue.connection.zscore(heartbeats.WORKERS_KEY, worker.name) is None
