"""What is kept and for how long: `manage.py prune_jobs` and the workers' retention delete
finished jobs past their age in batches, never an unfinished one; Idempotency-Keys go after
24 h; webhook receipts stay; the dashboard's counts stay equal to the rows."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bespin.testing.processes import Processes, wait_for
from jobs import selectors
from jobs.execution import retention, tallies
from jobs.models import EVERYONE, IdempotencyKey, Job, JobStatus
from jobs.services import creation, lifecycle
from webhooks.models import WebhookReceipt

pytestmark = pytest.mark.django_db


def _aged(job: Job, days: float) -> Job:
    """Backdate a job, as if everything it went through happened `days` ago."""
    then = timezone.now() - timedelta(days=days)
    Job.objects.filter(id=job.id).update(
        created_at=then, started_at=then if job.started_at else None, finished_at=then if job.finished_at else None
    )
    job.refresh_from_db()
    return job


def _finished(state: str, days: float, owner=None) -> Job:
    job = creation.create_job(kind="random_text", params={"length": 2}, owner=owner)
    if state == JobStatus.CANCELLED:
        lifecycle.cancel_job(job=job)
    else:
        job = lifecycle.start_job(job_id=job.id, worker_name="test-worker")
        if state == JobStatus.COMPLETED:
            lifecycle.complete_job(job=job, result="cloud data")
        else:
            lifecycle.fail_job(job=job, error="disk on fire")
    return _aged(job, days)


def _idempotency_key(key: str, hours: float, job: Job | None = None) -> IdempotencyKey:
    """A key a client sent `hours` ago with the job it made (a new pending job by default)."""
    job = job or creation.create_job(kind="random_text", params={"length": 2})
    made = IdempotencyKey.objects.create(client="ip:192.0.2.1", key=key, fingerprint="f" * 64, job=job)
    IdempotencyKey.objects.filter(id=made.id).update(created_at=timezone.now() - timedelta(hours=hours))
    return made


def _counted() -> dict[str, int]:
    return {status: n for status, n in selectors.counts_by_status(owner_id=EVERYONE).items() if n}


def _actual() -> dict[str, int]:
    statuses = list(Job.objects.values_list("status", flat=True))
    return {status: statuses.count(status) for status in set(statuses)}


def _prune(*args) -> str:
    out = io.StringIO()
    call_command("prune_jobs", *args, stdout=out)
    return out.getvalue()


def test_prune_deletes_only_finished_jobs_older_than_the_duration_in_batches(owner):
    old = [
        _finished(JobStatus.COMPLETED, 40, owner),
        _finished(JobStatus.FAILED, 35),
        _finished(JobStatus.CANCELLED, 31, owner),
        _finished(JobStatus.COMPLETED, 33),
        _finished(JobStatus.FAILED, 90),
    ]
    young = [_finished(JobStatus.COMPLETED, 29), _finished(JobStatus.FAILED, 1)]
    with CaptureQueriesContext(connection) as queries:
        out = _prune("--older-than", "30d", "--batch-size", "2")
    assert "deleted 5 finished job(s) older than 30 days" in out
    assert set(Job.objects.values_list("id", flat=True)) == {job.id for job in young}
    deletes = [q["sql"] for q in queries if q["sql"].startswith(f'DELETE FROM "{Job._meta.db_table}"')]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert not Job.objects.filter(id__in=[job.id for job in old]).exists()


def test_pending_and_running_jobs_are_kept_however_old():
    pending = _aged(creation.create_job(kind="sleep", params={"seconds": 1}), 400)
    running = creation.create_job(kind="sleep", params={"seconds": 1})
    running = _aged(lifecycle.start_job(job_id=running.id, worker_name="test-worker"), 400)
    # A finished_at from an earlier attempt must not matter either: the status decides.
    Job.objects.filter(id__in=[pending.id, running.id]).update(finished_at=timezone.now() - timedelta(days=400))
    _finished(JobStatus.COMPLETED, 400)
    assert retention.prune_jobs(older_than=timedelta(days=1), batch_size=1) == 1
    assert dict(Job.objects.values_list("id", "status")) == {pending.id: "pending", running.id: "running"}


def test_counts_stay_equal_to_the_rows_after_pruning(owner):
    for days in (40, 50):
        _finished(JobStatus.COMPLETED, days, owner)
    _finished(JobStatus.FAILED, 45)
    _finished(JobStatus.CANCELLED, 2, owner)
    creation.create_job(kind="sleep", params={"seconds": 1}, owner=owner)
    tallies.roll_up()
    created_before = selectors.job_tallies()["random_text"].created
    assert retention.prune_jobs(older_than=timedelta(days=30)) == 3
    assert _counted() == _actual() == {"cancelled": 1, "pending": 1}
    assert {s: n for s, n in selectors.counts_by_status(owner_id=owner.pk).items() if n} == {
        "cancelled": 1,
        "pending": 1,
    }
    tallies.roll_up()
    assert _counted() == _actual()
    # The metrics count what happened, not what is kept.
    assert selectors.job_tallies()["random_text"].created == created_before


def test_pruning_a_job_keeps_its_webhook_receipts():
    job = _finished(JobStatus.COMPLETED, 60)
    receipt = WebhookReceipt.objects.create(
        source="acme", event="build.done", delivery_id="d-1", payload={"ok": True}, job=job
    )
    _prune("--older-than", "30d")
    receipt.refresh_from_db()
    assert receipt.job_id is None
    assert receipt.payload == {"ok": True}


def test_idempotency_keys_older_than_a_day_go_and_younger_ones_stay():
    old = _idempotency_key("k-old", hours=25)
    young = _idempotency_key("k-new", hours=23)
    out = _prune("--older-than", "30d")
    assert "deleted 1 idempotency key(s)" in out
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["k-new"]
    # The keys go, the (pending) jobs they made stay.
    assert Job.objects.filter(id__in=[old.job_id, young.job_id]).count() == 2


def test_a_pruned_jobs_idempotency_key_goes_with_it():
    _idempotency_key("k", hours=1, job=_finished(JobStatus.COMPLETED, 40))
    assert retention.prune_jobs(older_than=timedelta(days=30)) == 1
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("duration", ["30", "thirty days", "30y", "-1d", ""])
def test_prune_refuses_a_bad_duration(duration):
    _finished(JobStatus.COMPLETED, 400)
    with pytest.raises(CommandError):
        _prune("--older-than", duration)
    assert Job.objects.count() == 1


def test_prune_needs_a_duration_and_a_positive_batch_size():
    with pytest.raises(CommandError):
        _prune()
    with pytest.raises(CommandError, match="at least 1"):
        _prune("--older-than", "30d", "--batch-size", "0")


def test_maintenance_applies_the_configured_retention_once_a_minute(settings, redis_conn):
    settings.JOB_RETENTION = timedelta(days=30)
    _finished(JobStatus.COMPLETED, 31)
    kept = _finished(JobStatus.COMPLETED, 29)
    _idempotency_key("k", hours=25)
    pruned = retention.apply_retention(connection=redis_conn, worker_name="w1")
    assert pruned == retention.Pruned(jobs=1, idempotency_keys=1)
    assert Job.objects.filter(status=JobStatus.COMPLETED).get() == kept
    # Another worker's sweep two seconds later leaves it for a minute.
    _finished(JobStatus.COMPLETED, 31)
    assert retention.apply_retention(connection=redis_conn, worker_name="w2") is None
    assert Job.objects.filter(status=JobStatus.COMPLETED).count() == 2
    assert 0 < redis_conn.ttl(retention.RETENTION_LOCK_KEY) <= retention.RETENTION_INTERVAL_SECONDS


def test_without_a_configured_retention_maintenance_keeps_jobs_but_prunes_keys(settings, redis_conn):
    settings.JOB_RETENTION = None
    job = _finished(JobStatus.COMPLETED, 4000)
    _idempotency_key("k", hours=25)
    assert retention.apply_retention(connection=redis_conn, worker_name="w1") == retention.Pruned(
        jobs=0, idempotency_keys=1
    )
    assert Job.objects.filter(id=job.id).exists()


def test_a_bounded_prune_stops_at_its_maximum():
    # The maintenance's bound (MAINTENANCE_MAX_JOBS): a backlog goes over several runs.
    for _ in range(3):
        _finished(JobStatus.FAILED, 31)
    assert retention.prune_jobs(older_than=timedelta(days=30), batch_size=2, max_jobs=2) == 2
    assert Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # the worker is another process, reading committed rows
def test_a_running_worker_applies_bespin_job_retention(tmp_path):
    old = _finished(JobStatus.COMPLETED, 31)
    kept = _finished(JobStatus.COMPLETED, 29)
    processes = Processes(tmp_path, BESPIN_JOB_RETENTION="30d")
    try:
        worker = processes.worker()
        wait_for(lambda: not Job.objects.filter(id=old.id).exists(), 30, 0.1, "the worker's retention")
        assert Job.objects.filter(id=kept.id).exists()
        assert "maintenance failed" not in processes.log_of(worker)
    finally:
        processes.stop_all()
