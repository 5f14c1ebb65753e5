"""A client generated from /api/schema/ (openapi-python-client, pinned in requirements.txt)
works against the real thing: Daphne and a worker started as processes. Every answer is
parsed into the generated types, never left as raw JSON: the schema describes what is sent."""

import importlib
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from bespin.testing.processes import Processes
from jobs.models import UNFINISHED_STATUSES, Job, JobStatus
from jobs.tasks import RANDOM_TEXT, SLEEP

pytestmark = pytest.mark.django_db(transaction=True)

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
PACKAGE = "bespin_client"
# Parameters for a job of each kind: small, so that the worker finishes them at once.
PARAMS = {RANDOM_TEXT: {"length": 5}, SLEEP: {"seconds": 0.1}}
LONG_SLEEP = {"seconds": 30}


# The server, the worker and the generated package serve every test here; each test has a
# user of its own, and its rows go at its end.
@pytest.fixture(scope="module")
def live(django_db_setup, tmp_path_factory):
    processes = Processes(tmp_path_factory.mktemp("processes"), BESPIN_THROTTLE_USER="")
    base = processes.web()
    processes.worker()
    yield f"http://{base}"
    processes.stop_all()


@pytest.fixture(scope="module")
def generated(live, tmp_path_factory):
    """The package generated from the live server's schema, imported."""
    tmp_path = tmp_path_factory.mktemp("generated")
    request = urllib.request.Request(f"{live}/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    schema = tmp_path / "openapi.json"
    schema.write_bytes(urllib.request.urlopen(request, timeout=10).read())
    config = tmp_path / "generator.json"
    # No formatting hooks (the generated code is not kept), and a fixed package name.
    config.write_text(json.dumps({"post_hooks": [], "package_name_override": PACKAGE}))
    run = subprocess.run(
        [GENERATOR, "generate", "--path", str(schema), "--meta", "none", "--config", str(config),
         "--output-path", str(tmp_path / PACKAGE), "--fail-on-warning"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def client(generated, live):
    user = User.objects.create_user("client-user")
    token = Token.objects.create(user=user)
    # An answer with a status the schema does not list raises, rather than parsing to None.
    yield generated.AuthenticatedClient(base_url=live, token=token.key, prefix="Token", raise_on_unexpected_status=True)
    # The worker may still be starting the test's jobs as the tables are emptied, and a
    # status change (its counting trigger) then deadlocks with the TRUNCATE: end them first,
    # so that no later UPDATE of the worker's changes a row.
    Job.objects.filter(status__in=UNFINISHED_STATUSES).update(status=JobStatus.CANCELLED)


def _api(name: str):
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def _models():
    return importlib.import_module(f"{PACKAGE}.models")


def _body(kind: str, params: dict):
    """The generated body type of `kind` (one per kind: `SleepJobCreateRequest`)."""
    name = "".join(part.capitalize() for part in kind.split("_")) + "JobCreateRequest"
    return getattr(_models(), name).from_dict({"type": kind, "params": params})


def _parsed(response, model):
    assert response.parsed is not None, response.content
    assert isinstance(response.parsed, model), response.parsed
    # Every key the server sent has its place in the type.
    assert response.parsed.additional_properties == {}, response.parsed.additional_properties
    return response.parsed


def _finished(client, job_id, timeout: float = 20):
    models, retrieve = _models(), _api("jobs.jobs_retrieve")
    deadline = time.monotonic() + timeout
    while True:
        job = _parsed(retrieve.sync_detailed(job_id, client=client), models.Job)
        if job.status.value in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_a_job_of_each_kind_is_created_read_and_completed_through_the_generated_types(client):
    models, create = _models(), _api("jobs.jobs_create")
    for kind in (RANDOM_TEXT, SLEEP):
        response = create.sync_detailed(client=client, body=_body(kind, PARAMS[kind]))
        assert response.status_code == 201
        job = _parsed(response, models.Job)
        assert (job.type_, job.status.value, job.params.to_dict()) == (kind, "pending", PARAMS[kind])
        assert response.headers["Location"] == job.links.self_
        done = _finished(client, job.id)
        assert done.status.value == "completed", done.error
        assert done.finished_at is not None and done.attempt == 1
    texts = [job for job in _jobs(client) if job.type_ == RANDOM_TEXT]
    assert len(texts[0].result.split(" ")) == PARAMS[RANDOM_TEXT]["length"]


def _jobs(client) -> list:
    """Every job of the client's, page by page, following each page's `next` cursor."""
    models, listing = _models(), _api("jobs.jobs_list")
    jobs, cursor, pages = [], None, 0
    while True:
        given = {"cursor": cursor} if cursor else {}
        page = _parsed(listing.sync_detailed(client=client, **given), models.PaginatedJobList)
        pages += 1
        assert (page.previous is None) == (pages == 1)
        jobs.extend(page.results)
        if page.next_ is None:
            return jobs
        (cursor,) = parse_qs(urlsplit(page.next_).query)["cursor"]


def test_the_jobs_list_pages_newest_first_to_the_end(client):
    models, batch = _models(), _api("jobs.jobs_batch_create")
    entries = [_body(RANDOM_TEXT, {"length": n}) for n in range(1, 46)]
    response = batch.sync_detailed(client=client, body=models.JobBatchRequestRequest(jobs=entries))
    assert response.status_code == 201
    created = _parsed(response, models.JobBatchResult).jobs
    listed = _jobs(client)
    assert len(listed) == 45  # three pages of 20
    assert {job.id for job in listed} == {job.id for job in created}
    assert [job.created_at for job in listed] == sorted((job.created_at for job in listed), reverse=True)


def test_a_job_is_cancelled_then_retried_and_errors_parse_too(client):
    models = _models()
    cancel, retry = _api("jobs.jobs_cancel"), _api("jobs.jobs_retry")
    created = _api("jobs.jobs_create").sync_detailed(client=client, body=_body(SLEEP, LONG_SLEEP))
    job = _parsed(created, models.Job)

    cancelled = _parsed(cancel.sync_detailed(job.id, client=client), models.Job)
    assert cancelled.status.value == "cancelled"
    retried = _parsed(retry.sync_detailed(job.id, client=client), models.Job)
    assert (retried.status.value, retried.attempt) == ("pending", 2)
    assert _parsed(cancel.sync_detailed(job.id, client=client), models.Job).status.value == "cancelled"

    # The refusals are generated types too: a conflict names the job's status, an unknown id is an Error.
    conflict = cancel.sync_detailed(job.id, client=client)
    assert conflict.status_code == 409
    assert _parsed(conflict, models.JobConflict).status.value == "cancelled"
    missing = _api("jobs.jobs_retrieve").sync_detailed("00000000-0000-4000-8000-000000000000", client=client)
    assert missing.status_code == 404
    assert "no job" in _parsed(missing, models.Error).error
