"""Run later, with real workers: a scheduled job starts within a second of its run_at, also
with 10,000 others scheduled, and also after Redis lost everything it held."""

from datetime import timedelta

import pytest

from bespin.testing.processes import Processes, wait_for
from jobs.models import Job, JobStatus
from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)

# From run_at to started_at, measured on the rows: the clock's round (0.2 s), the promotion,
# the enqueue and the worker's dequeue. The issue asks for 1 s.
MOST_LATE = timedelta(seconds=1)


def _lateness(job_ids) -> list[timedelta]:
    jobs = Job.objects.filter(id__in=job_ids)
    return [job.started_at - job.run_at for job in jobs]


def _all_completed(job_ids) -> bool:
    return Job.objects.filter(id__in=job_ids, status=JobStatus.COMPLETED).count() == len(job_ids)


def test_scheduled_jobs_start_within_a_second_of_run_at_among_10000_scheduled(processes, capsys):
    far = [{"type": "random_text", "params": {"length": 1}, "delay": 3600}] * creation.MAX_BATCH
    for _ in range(10):
        creation.create_jobs(entries=far)
    processes.worker()
    processes.worker()
    soon = [
        creation.create_job(kind="random_text", params={"length": 3}, timing={"delay": 2 + i * 0.15}).id
        for i in range(12)
    ]
    assert Job.objects.filter(status=JobStatus.SCHEDULED).count() == 10_012
    wait_for(lambda: _all_completed(soon), 30, 0.1, "the jobs scheduled soon to run")
    lateness = _lateness(soon)
    assert all(timedelta(0) <= late < MOST_LATE for late in lateness), lateness
    assert Job.objects.filter(status=JobStatus.SCHEDULED).count() == 10_000
    with capsys.disabled():
        print(f"\nrun_at -> started_at with 10,000 scheduled: at most {max(lateness).total_seconds():.3f} s")


def test_a_scheduled_job_survives_a_redis_flush_and_runs_on_time(processes, redis_conn):
    processes.worker()
    job = creation.create_job(kind="random_text", params={"length": 3}, timing={"delay": 2.5})
    redis_conn.flushdb()  # everything Redis held: the queues, the locks, the heartbeats
    wait_for(lambda: _all_completed([job.id]), 30, 0.1, "the scheduled job to run")
    (late,) = _lateness([job.id])
    assert timedelta(0) <= late < MOST_LATE, late


def test_a_scheduled_job_runs_on_time_when_a_worker_dies_before_it_is_due(processes):
    doomed = processes.worker()
    processes.worker()
    job = creation.create_job(kind="random_text", params={"length": 3}, timing={"delay": 1.5})
    Processes.kill(doomed)
    wait_for(lambda: _all_completed([job.id]), 30, 0.1, "the scheduled job to run on the other worker")
    (late,) = _lateness([job.id])
    assert timedelta(0) <= late < MOST_LATE, late
