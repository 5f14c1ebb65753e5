"""With REDIS_SENTINELS set, every Redis client Bespin makes asks the sentinels for the
master: its own clients (queue, counters, publish, async), Django's cache, django-rq's
connection and the channel layer. Against real sentinels whose master is not at REDIS_URL's
host (nothing listens there), so a client that used REDIS_URL's host could not answer."""

import asyncio
import importlib

import django_rq.connection_utils
import pytest
from django.core.cache import caches
from django.core.checks import run_checks

from bespin import settings as bespin_settings
from bespin.lib import redis as bespin_redis
from bespin.testing.processes import Processes, free_port
from bespin.testing.sentinel import MASTER_NAME, SentinelRedis


@pytest.fixture
def sentinel_settings(tmp_path, settings, monkeypatch):
    processes = Processes(tmp_path)
    redis = SentinelRedis(processes, tmp_path)
    try:
        redis.start()
        environment = {**redis.env(), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/3"}
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SECRET_KEY", "bespin-tests-only")
        fresh = importlib.reload(bespin_settings)  # the settings module as a server would read it
        for name in ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD", "REDIS_AUTH",
                     "REDIS_SENTINEL_KWARGS", "CACHES", "CHANNEL_LAYERS", "RQ_QUEUES"):  # fmt: skip
            setattr(settings, name, getattr(fresh, name))
        bespin_redis._client.cache_clear()
        yield redis
    finally:
        processes.stop_all()
        monkeypatch.undo()
        importlib.reload(bespin_settings)
        bespin_redis._client.cache_clear()


def test_every_redis_client_reaches_the_master_through_the_sentinels(sentinel_settings, settings):
    master = sentinel_settings.master()
    assert settings.REDIS_SENTINELS == [("127.0.0.1", port) for port in sentinel_settings.sentinel_ports]
    assert settings.REDIS_SENTINEL_MASTER == MASTER_NAME
    clients = {
        "queue": bespin_redis.queue_client(),
        "counters": bespin_redis.counters_client(),
        "publish": bespin_redis.publish_client(settings.REDIS_URL),
        "rq": django_rq.connection_utils.get_redis_connection(settings.RQ_QUEUES["default"]),
    }
    for purpose, client in clients.items():
        client.set(f"written-by-{purpose}", purpose)
        assert client.connection_pool.connection_kwargs["db"] == 3, purpose
        assert client.connection_pool.get_master_address() == ("127.0.0.1", master), purpose
    caches["default"].set("written-by-cache", "cache")
    assert caches["default"].get("written-by-cache") == "cache"

    async def async_and_layer():
        client = bespin_redis.async_counters_client()
        assert await client.get("written-by-queue") == b"queue"
        await client.aclose()
        from channels_redis.utils import create_pool

        (host,) = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
        pool = create_pool(host)
        assert await pool.get_master_address() == ("127.0.0.1", master)
        await pool.disconnect()

    asyncio.run(async_and_layer())
    # The layer's one host passes Bespin's check, and its publications go to REDIS_URL's
    # client (jobs.events publishes them on the queue's pipeline or publish_client(REDIS_URL)).
    assert [error.id for error in run_checks() if error.id.startswith("bespin.E")] == []
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert list(layer.publications({"some-group": {"type": "x"}})) == [settings.REDIS_URL]
