"""Reads made on the server's event loop itself, without a hop to a thread.

A WebSocket that watches a job reads one row when it opens. Through the ORM that read is a
hop to Channels' database thread with Django's connection bookkeeping on each side (see
docs/BENCHMARKS.md for what it costs per socket). Here it is one prepared SELECT on an
asynchronous psycopg connection from psycopg_pool's pool, in autocommit, connected with
Django's own settings. Writes stay with the services and the ORM.

Each event loop has a pool of its own, opened on first use (a server has one loop, for as long
as it runs). The pool drops a connection that failed, so reads recover by themselves once
PostgreSQL is back.
"""

import asyncio

import psycopg
from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool

# Each read takes a fraction of a millisecond: a few connections serve thousands of sockets
# opening at once, which wait for one rather than open more.
POOL_SIZE = 4
# As on the Django side: while PostgreSQL does not answer, a read gives up after this long
# (psycopg_pool's PoolTimeout, an OperationalError) and the caller answers as for any outage.
TIMEOUT_SECONDS = 5

_pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}


def _connection_params() -> dict:
    params = connections["default"].get_connection_params()
    # Django's cursor class and adapters are for its own synchronous connections.
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    if settings.DATABASE_DIRECT_URL:
        # Through PgBouncer in transaction mode a statement prepared on one server connection
        # is unknown to the next: psycopg then prepares none.
        params["prepare_threshold"] = None
    return {**params, "autocommit": True}


async def _pool() -> AsyncConnectionPool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = AsyncConnectionPool(
            kwargs=_connection_params(), min_size=1, max_size=POOL_SIZE, timeout=TIMEOUT_SECONDS, open=False
        )
        await pool.open()
    return pool


async def close() -> None:
    """Close this event loop's pool, if it has one: before a loop that is not the server's
    ends (a test's), while its pool's own tasks still run."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()


async def fetch_one(sql: str, params) -> tuple | None:
    """The first row of a read-only query, or None."""
    pool = await _pool()
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS), pool.connection() as connection:
            cursor = await connection.execute(sql, params, prepare=True)
            return await cursor.fetchone()
    except TimeoutError as exc:
        raise psycopg.OperationalError(f"no answer from PostgreSQL in {TIMEOUT_SECONDS} s") from exc
