"""Reads made on the server's event loop itself, without a hop to a thread.

A WebSocket that watches a job reads one row when it opens. Through the ORM that read is a
hop to Channels' database thread with Django's connection bookkeeping on each side: about a
millisecond of a server's CPU per socket, a good part of opening one. Here it is one
prepared SELECT on an asynchronous psycopg connection, in autocommit, connected with Django's
own settings. Writes stay with the services and the ORM.

Each event loop keeps a few connections, opened on first use and closed with the loop; a
connection that failed is dropped, and the next read opens a new one, so reads recover by
themselves once PostgreSQL is back.
"""

import asyncio
import types

import psycopg
from django.db import connections

# Each read takes a fraction of a millisecond: a few connections serve thousands of sockets
# opening at once, which wait for one rather than open more.
POOL_SIZE = 4
# As on the Django side: while PostgreSQL does not answer, a read gives up after this long
# and the caller answers as for any outage.
TIMEOUT_SECONDS = 5


class _Connections:
    def __init__(self):
        params = connections["default"].get_connection_params()
        # Django's cursor class and adapters are for its own synchronous connections.
        for name in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(name, None)
        self.params = params
        self.idle: list[psycopg.AsyncConnection] = []
        self.slots = asyncio.Semaphore(POOL_SIZE)

    async def fetch_one(self, sql: str, params) -> tuple | None:
        async with self.slots:
            connection = self.idle.pop() if self.idle else None
            try:
                async with asyncio.timeout(TIMEOUT_SECONDS):
                    if connection is None:
                        connection = await psycopg.AsyncConnection.connect(autocommit=True, **self.params)
                    cursor = await connection.execute(sql, params, prepare=True)
                    row = await cursor.fetchone()
            except BaseException as exc:
                if connection is not None:
                    await connection.close()
                if isinstance(exc, TimeoutError):
                    raise psycopg.OperationalError(f"no answer from PostgreSQL in {TIMEOUT_SECONDS} s") from exc
                raise
            self.idle.append(connection)
            return row

    async def close(self) -> None:
        while self.idle:
            await self.idle.pop().close()


_by_loop: dict[asyncio.AbstractEventLoop, _Connections] = {}


def _for_this_loop() -> _Connections:
    loop = asyncio.get_running_loop()
    found = _by_loop.get(loop)
    if found is None:
        found = _by_loop[loop] = _Connections()
        _close_with(loop)
    return found


def _close_with(loop: asyncio.AbstractEventLoop) -> None:
    """Close the loop's connections when the loop closes (a test's loop, or a server's at
    exit), so that none outlives it."""
    close = loop.close

    def closing(self, *args, **kwargs):
        found = _by_loop.pop(loop, None)
        if found is not None and not loop.is_running():
            loop.run_until_complete(found.close())
        self.close = close
        return close(*args, **kwargs)

    loop.close = types.MethodType(closing, loop)


async def fetch_one(sql: str, params) -> tuple | None:
    """The first row of a read-only query, or None."""
    return await _for_this_loop().fetch_one(sql, params)
