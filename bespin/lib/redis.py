"""Bespin's Redis clients: one per purpose, each made once per process.

redis-py's pool notices a fork and starts afresh in the child, so a client made here is safe
in a forked process too. The channel layer and Django's cache keep their own clients,
configured in settings.
"""

import asyncio
import weakref
from functools import cache

import redis
import redis.asyncio
from django.conf import settings


@cache
def _client(url: str, purpose: str) -> redis.Redis:
    if purpose == "queue":
        # RQ's queue, the workers' heartbeats and the recovery sweep: plain timeouts, as RQ's own.
        return redis.Redis.from_url(url)
    if purpose == "publish":
        # Status changes sent on their own (jobs.events): a Redis that stops answering holds a
        # request or a job for 5 s to connect, then 5 s a read, rather than for ever.
        return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    # Counters and limits on a request's path: a slow Redis must not hold the request, which
    # goes on without them (each caller says what it does then).
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


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
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        _async_clients[loop] = client
    return client
