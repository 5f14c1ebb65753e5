"""Bespin's Redis clients: one per purpose, each made once per process.

redis-py's pool notices a fork and starts afresh in the child, so a client made here is safe
in a forked process too. The channel layer, Django's cache and django-rq's workers keep their
own clients, configured in settings from the same REDIS_URL and, with Sentinel, the same
sentinels.

With REDIS_SENTINELS set, a client for REDIS_URL is one redis-py's Sentinel makes for the
master: each new connection asks the sentinels where the master is, and a connection that
fails, or finds its server demoted to a replica (READONLY), is dropped, so the next command
reaches the new master once the sentinels have promoted one.
"""

import asyncio
import weakref
from functools import cache

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from django.conf import settings


def client_for(url: str, **options) -> redis.Redis:
    """A client of the Redis at `url`: through the sentinels when it is REDIS_URL and
    REDIS_SENTINELS is set."""
    if settings.REDIS_SENTINELS and url == settings.REDIS_URL:
        sentinels = redis.sentinel.Sentinel(
            settings.REDIS_SENTINELS, sentinel_kwargs=settings.REDIS_SENTINEL_KWARGS, **settings.REDIS_AUTH, **options
        )
        return sentinels.master_for(settings.REDIS_SENTINEL_MASTER)
    return redis.Redis.from_url(url, **options)


def async_client_for(url: str, **options) -> redis.asyncio.Redis:
    """client_for() in asyncio."""
    if settings.REDIS_SENTINELS and url == settings.REDIS_URL:
        sentinels = redis.asyncio.sentinel.Sentinel(
            settings.REDIS_SENTINELS, sentinel_kwargs=settings.REDIS_SENTINEL_KWARGS, **settings.REDIS_AUTH, **options
        )
        return sentinels.master_for(settings.REDIS_SENTINEL_MASTER)
    return redis.asyncio.Redis.from_url(url, **options)


class SentinelCachePool(redis.sentinel.SentinelConnectionPool):
    """Django's Redis cache (OPTIONS pool_class) through the sentinels: its LOCATION,
    REDIS_URL, gives the database and credentials."""

    @classmethod
    def from_url(cls, url, **options):
        sentinels = redis.sentinel.Sentinel(settings.REDIS_SENTINELS, sentinel_kwargs=settings.REDIS_SENTINEL_KWARGS)
        return cls(settings.REDIS_SENTINEL_MASTER, sentinels, **settings.REDIS_AUTH, **options)


@cache
def _client(url: str, purpose: str) -> redis.Redis:
    if purpose == "queue":
        # RQ's queue, the workers' heartbeats and the recovery sweep: plain timeouts, as RQ's own.
        return client_for(url)
    if purpose == "publish":
        # Status changes sent on their own (jobs.events): a Redis that stops answering holds a
        # request or a job for 5 s to connect, then 5 s a read, rather than for ever.
        return client_for(url, socket_timeout=5, socket_connect_timeout=5)
    # Counters and limits on a request's path: a slow Redis must not hold the request, which
    # goes on without them (each caller says what it does then).
    return client_for(url, socket_timeout=1, socket_connect_timeout=1)


def queue_client() -> redis.Redis:
    """The connection of the RQ queue, the worker heartbeats and recovery."""
    return _client(settings.REDIS_URL, "queue")


def publish_client(url: str) -> redis.Redis:
    """The client that publishes status changes to the channel layer's Redis at `url`."""
    return _client(url, "publish")


def counters_client() -> redis.Redis:
    """Short-timeout client for counters, rate limits and rejection logs."""
    return _client(settings.REDIS_URL, "counters")


_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def async_counters_client() -> redis.asyncio.Redis:
    """counters_client() for async code: one client per event loop (a client's connections
    belong to the loop they were made on)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = async_client_for(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        _async_clients[loop] = client
    return client
