"""Every change of a job is one structured log line."""

import logging

import pytest

from jobs.services import creation

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_change_is_one_structured_log_line(run_worker, caplog):
    with caplog.at_level(logging.INFO, logger="bespin.jobs"):
        job = creation.create_job(kind="random_text", params={"length": 3})
        run_worker()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job_change")]
    assert [line.split(" status=")[1].split(" ")[0] for line in lines] == ["pending", "running", "completed"]
    assert all(f"job={job.id} kind=random_text" in line for line in lines)
    assert " duration=" in lines[-1] and " worker=" in lines[-1]
