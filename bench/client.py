"""Load-generating clients: a small HTTP/1.1 keep-alive client and a closed-loop driver.

On two cores the client shares the CPU with the server it measures, so it must cost as
little as possible per request: a general HTTP library spends more in the client than
Daphne's routing spends in the server. This one writes a request and parses a
Content-Length or chunked response, and nothing else; everything goes to 127.0.0.1.
"""

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), timeout=self.timeout
        )

    async def request(self, method: str, target: str, body: bytes = b"", headers=()) -> tuple[int, bytes]:
        if self.writer is None:
            await self._connect()
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head.extend(f"{name}: {value}" for name, value in headers)
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        try:
            return await asyncio.wait_for(self._response(), timeout=self.timeout)
        except BaseException:
            self.close()
            raise

    async def _response(self) -> tuple[int, bytes]:
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = None, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            parts = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size + 2))
            await self.reader.readline()
            body = b"".join(part[:-2] for part in parts)
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body, close = await self.reader.read(), True
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class LoadResult:
    requests: int = 0
    elapsed: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    first_sent: float = 0.0  # time.time() of the first request, for end-to-end spans

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def ok(self, low: int = 200, high: int = 300) -> int:
        return sum(count for status, count in self.statuses.items() if low <= status < high)


async def closed_loop(host: str, port: int, *, clients: int, total: int, make_request, time_limit: float) -> LoadResult:
    """`clients` connections send `total` requests between them, each waiting for its answer
    before the next (a closed loop, like 8 real clients); `make_request(i)` gives
    (method, target, body, headers) for request number i. Stops early at `time_limit`."""
    numbers = itertools.count()
    result = LoadResult()
    deadline = time.monotonic() + time_limit

    async def client() -> None:
        connection = HttpConnection(host, port)
        try:
            while (i := next(numbers)) < total and time.monotonic() < deadline:
                method, target, body, headers = make_request(i)
                sent = time.perf_counter()
                try:
                    status, _ = await connection.request(method, target, body, headers)
                except (TimeoutError, OSError, ConnectionError, ValueError) as exc:
                    result.errors[type(exc).__name__] += 1
                    continue
                result.latencies.append(time.perf_counter() - sent)
                result.statuses[status] += 1
                result.requests += 1
        finally:
            connection.close()

    result.first_sent = time.time()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.elapsed = time.perf_counter() - started
    return result


def percentile(values, fraction: float) -> float:
    """Nearest-rank percentile; `fraction` 0.5 is the median, 0.99 the p99."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]
