"""At most N at once: a kind's limit holds across workers (checked from the rows' start and
finish times), jobs over it wait pending without holding up other kinds, and a slot held by
a killed worker comes back when its lease runs out."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from bespin.env import env_int_map
from bespin.testing import tasks
from bespin.testing.processes import Processes, wait_for
from jobs import registry
from jobs.checks import check_task_settings
from jobs.execution import concurrency, queue, recovery
from jobs.models import Job, JobStatus
from jobs.services import creation, lifecycle

# What the processes this module starts run with (the `processes` fixture).
PROCESS_ENV = {"BESPIN_MAX_CONCURRENCY": "sleep=1"}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (None, {}),
        ("", {}),
        ("sleep=1", {"sleep": 1}),
        (" sleep = 1 , random_text=50,", {"sleep": 1, "random_text": 50}),
    ],
)
def test_the_limits_setting_reads_name_number_pairs(monkeypatch, raw, parsed):
    if raw is None:
        monkeypatch.delenv("BESPIN_MAX_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("BESPIN_MAX_CONCURRENCY", raw)
    assert env_int_map("BESPIN_MAX_CONCURRENCY") == parsed


@pytest.mark.parametrize("raw", ["sleep", "=1", "sleep=one", "sleep=1.5", "sleep=1,sleep=2", "sleep=-1"])
def test_a_limits_setting_that_cannot_be_read_is_refused_loudly(monkeypatch, raw):
    monkeypatch.setenv("BESPIN_MAX_CONCURRENCY", raw)
    with pytest.raises(ImproperlyConfigured, match="BESPIN_MAX_CONCURRENCY"):
        env_int_map("BESPIN_MAX_CONCURRENCY", minimum=0)


def test_the_setting_overrides_a_tasks_own_limit(register_task, settings):
    register_task(tasks.report, "export", max_concurrency=3)
    settings.MAX_CONCURRENCY = {}
    assert (registry.concurrency_limit("export"), registry.concurrency_limit("sleep")) == (3, None)
    settings.MAX_CONCURRENCY = {"export": 0, "sleep": 2}
    assert (registry.concurrency_limit("export"), registry.concurrency_limit("sleep")) == (None, 2)


def test_a_full_kind_parks_the_entry_and_a_slot_given_back_wakes_it_to_the_front(redis_conn):
    key = queue.rq_queue("low").key
    lease = concurrency.acquire_or_park(kind="sleep", limit=1, rq_job_id="a_1", queue_key=key)
    assert lease is not None
    assert concurrency.acquire_or_park(kind="sleep", limit=1, rq_job_id="b_1", queue_key=key) is None
    redis_conn.rpush(key, "later_1")
    assert redis_conn.lrange(concurrency.parked_key("sleep"), 0, -1) == [f"{key} b_1".encode()]
    assert concurrency.release(lease) == 1
    assert redis_conn.lrange(key, 0, -1) == [b"b_1", b"later_1"]
    assert redis_conn.llen(concurrency.parked_key("sleep")) == 0


def test_a_lease_that_ran_out_frees_its_slot(redis_conn, settings):
    settings.MAX_CONCURRENCY = {"sleep": 1}
    redis_conn.zadd(concurrency.slots_key("sleep"), {"dead_1": time.time() - 1})
    key = queue.rq_queue().key
    redis_conn.rpush(concurrency.parked_key("sleep"), concurrency.parked_entry(key, "waiting_1"))
    assert concurrency.wake_parked() == 1
    assert redis_conn.lrange(key, 0, -1) == [b"waiting_1"]
    assert concurrency.acquire_or_park(kind="sleep", limit=1, rq_job_id="waiting_1", queue_key=key) is not None


@pytest.mark.django_db
def test_the_sweep_leaves_a_parked_job_alone(redis_conn, settings, django_capture_on_commit_callbacks):
    settings.MAX_CONCURRENCY, settings.ENQUEUE_GRACE_SECONDS = {"sleep": 1}, 0
    with django_capture_on_commit_callbacks(execute=True):
        job = creation.create_job(kind="sleep", params={"seconds": 1})
    rq_job_id, key = queue.rq_job_id(job), queue.queue_of(job).key
    redis_conn.lrem(key, 1, rq_job_id)  # what a worker's dequeue and park do
    redis_conn.rpush(concurrency.parked_key("sleep"), concurrency.parked_entry(key, rq_job_id))
    assert recovery.recover_jobs().reenqueued == []
    redis_conn.delete(concurrency.parked_key("sleep"))  # Redis lost it: the sweep stands in
    assert [j.id for j in recovery.recover_jobs().reenqueued] == [job.id]


@pytest.mark.django_db
def test_the_overview_shows_the_slots_in_use_per_limited_kind(client, owner, settings, redis_conn):
    settings.MAX_CONCURRENCY = {"sleep": 2}
    redis_conn.zadd(concurrency.slots_key("sleep"), {"x_1": time.time() + 30})
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'data-slots="sleep"' in page and '1 <span class="of">of 2</span>' in page
    settings.MAX_CONCURRENCY = {}
    assert "data-slots" not in client.get(reverse("dashboard")).content.decode()


def _sleep_jobs(n: int, seconds: float) -> list:
    return [creation.create_job(kind="sleep", params={"seconds": seconds}).id for _ in range(n)]


def _finished(job_ids) -> bool:
    return not Job.objects.filter(id__in=job_ids).exclude(status=JobStatus.COMPLETED).exists()


@pytest.mark.django_db(transaction=True)
def test_three_workers_with_a_limit_of_one_never_run_two_sleep_jobs_at_once(processes):
    for _ in range(3):
        processes.worker()
    job_ids = _sleep_jobs(6, 0.3)
    wait_for(lambda: _finished(job_ids), 60, 0.1, "every sleep job to finish")
    runs = sorted(Job.objects.filter(id__in=job_ids).values_list("started_at", "finished_at", "worker_name"))
    for (_, finished, _), (started, _, _) in zip(runs, runs[1:], strict=False):
        assert started >= finished, runs
    assert len({worker for _, _, worker in runs}) > 1, "one worker ran them all: the limit was never tested"


@pytest.mark.django_db(transaction=True)
def test_jobs_over_the_limit_wait_without_holding_up_other_kinds(processes):
    processes.worker()
    processes.worker()
    # The first holds the only slot for 3 s: ten tiny jobs of another kind, queued behind the
    # two sleep jobs that wait for it, must all run meanwhile on the same two workers.
    (first,) = _sleep_jobs(1, 3)
    wait_for(lambda: Job.objects.filter(id=first, status=JobStatus.RUNNING).exists(), 20, message="the first")
    second, third = _sleep_jobs(2, 0.2)
    others = [creation.create_job(kind="random_text", params={"length": 3}).id for _ in range(10)]
    wait_for(lambda: _finished([first, second, third, *others]), 60, 0.1, "every job to finish")
    rows = {job.id: job for job in Job.objects.filter(id__in=[first, second, third, *others])}
    assert max(rows[job_id].finished_at for job_id in others) < rows[first].finished_at
    runs = sorted((rows[job_id].started_at, rows[job_id].finished_at) for job_id in (second, third))
    assert rows[first].finished_at <= runs[0][0] and runs[0][1] <= runs[1][0], "two sleep jobs overlapped"


@pytest.mark.django_db(transaction=True)
def test_a_slot_held_by_a_killed_worker_frees_when_its_lease_runs_out(processes, redis_conn):
    doomed = processes.worker()
    held = _sleep_jobs(1, 60)[0]
    wait_for(lambda: Job.objects.filter(id=held, status=JobStatus.RUNNING).exists(), 20, message="the held job")
    survivor = processes.worker()
    waiting = _sleep_jobs(1, 0.2)[0]
    wait_for(lambda: redis_conn.llen(concurrency.parked_key("sleep")) == 1, 20, message="the second job to park")
    Processes.kill(doomed)
    lease_ends = redis_conn.zscore(concurrency.slots_key("sleep"), f"{held}_1")
    assert lease_ends, "the killed worker held no lease"
    lifecycle.cancel_job(job=Job.objects.get(id=held))  # so that recovery does not run it again
    wait_for(lambda: _finished([waiting]), 30, 0.1, "the waiting job to run")
    ran = Job.objects.get(id=waiting)
    assert ran.worker_name == survivor.worker_name
    assert ran.started_at.timestamp() >= lease_ends


def test_a_limit_for_a_kind_that_does_not_exist_stops_every_command(settings):
    settings.MAX_CONCURRENCY = {"slep": 1}
    (error,) = check_task_settings(None)
    assert error.id == "jobs.E001" and "'slep'" in error.msg
    settings.MAX_CONCURRENCY = {"sleep": 1}
    assert check_task_settings(None) == []
