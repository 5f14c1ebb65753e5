"""A new job is announced to its watchers in its enqueue's transaction, and on its own when
the enqueue fails: a job left for the recovery sweep is still seen as created."""

import copy

import pytest
from channels.layers import get_channel_layer

from jobs import events
from jobs.execution import queue
from jobs.models import Job, JobStatus
from jobs.services import creation

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_messages(redis_conn):
    """The status events published to the site's watchers, as the layer delivers them."""
    layer = get_channel_layer()
    ((_, [(channel, _)]),) = layer.publications({events.SITE_GROUP: {}}).items()
    subscriber = redis_conn.pubsub()
    subscriber.subscribe(channel)
    assert subscriber.get_message(timeout=5)["type"] == "subscribe"

    def received() -> list[dict]:
        found = []
        while (message := subscriber.get_message(timeout=1)) is not None:
            found.append(layer.deserialize(message["data"]))
        return found

    yield received
    subscriber.close()


def _statuses(messages) -> list[tuple[str, str]]:
    return [(m["message"]["job_id"], m["message"]["status"]) for m in messages]


def test_a_new_job_is_announced_with_its_enqueue(site_messages, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = creation.create_job(kind="random_text", params={"length": 2})
    assert _statuses(site_messages()) == [(str(job.id), JobStatus.PENDING)]
    assert queue.rq_queue("default").job_ids == [queue.rq_job_id(job)]


def test_a_new_job_whose_enqueue_fails_is_still_announced(site_messages, settings, django_capture_on_commit_callbacks):
    # The queue's Redis refuses connections; the channel layer's still answers.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with django_capture_on_commit_callbacks(execute=True):
        job = creation.create_job(kind="random_text", params={"length": 2})
    assert _statuses(site_messages()) == [(str(job.id), JobStatus.PENDING)]
    assert Job.objects.get(id=job.id).status == JobStatus.PENDING  # for the recovery sweep


@pytest.fixture
def hset_refused(redis_conn, settings):
    """The queue's Redis (the channel layer's too) as a user that may not HSET: Redis refuses
    the entry while its transaction is queued, and discards the whole transaction."""
    user = "bespin-tests-no-hset"
    redis_conn.execute_command("ACL", "SETUSER", user, "reset", "on", "nopass", "~*", "&*", "+@all", "-hset")
    url = settings.REDIS_URL.replace("redis://", f"redis://{user}@", 1)
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"][0]["address"] = url
    settings.REDIS_URL, settings.CHANNEL_LAYERS = url, layers
    yield
    redis_conn.execute_command("ACL", "DELUSER", user)


def test_a_publish_lost_with_its_enqueue_is_sent_again(site_messages, hset_refused, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = creation.create_job(kind="random_text", params={"length": 2})
    assert _statuses(site_messages()) == [(str(job.id), JobStatus.PENDING)]
    assert queue.rq_queue("default").job_ids == []  # nothing of the transaction ran
    assert Job.objects.get(id=job.id).status == JobStatus.PENDING  # for the recovery sweep
