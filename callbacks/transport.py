"""One callback POST over HTTP(S), to a vetted address.

The host is resolved here and each address vetted (bespin.lib.addresses); the connection goes
to the vetted address itself, while the request's Host header and, for https, TLS's server
name and certificate check use the URL's host. Redirects are not followed. Each sending
thread keeps one connection alive per receiver, so a busy receiver costs one TCP (and TLS)
handshake per thread, not per callback.

An attempt has one wall-clock deadline (BESPIN_CALLBACK_TIMEOUT) for all of it: resolving
the host, connecting, TLS, sending and the whole answer. A socket's own timeout bounds each
read, not their sum (a receiver sending a byte every few seconds would hold the thread for
ever), and getaddrinfo has none: lookups run on a pool of their own and are waited for until
the deadline only, and a watchdog thread shuts the socket of any exchange still going at its
deadline, which ends whatever read or write is blocked on it.
"""

import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from bespin.lib.addresses import RefusedUrl, Target, check_url, vetted_addresses

# What is kept of an answer's body for the attempt log, and how much more is read (and
# dropped) to keep its connection for the next callback; past that the connection is closed.
RESPONSE_KEPT = 1024
DRAIN_MAX = 64 * 1024
# A kept-alive connection unused this long is closed rather than reused: servers close idle
# ones after a while, and a POST on a connection the server just closed must be sent again.
IDLE_SECONDS = 30.0
CONNECTIONS_PER_THREAD = 64
# Connection errors on a reused connection that mean "the server closed it meanwhile".
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, http.client.BadStatusLine)
# Lookups at once. One that never ends keeps its thread until the resolver gives up (glibc:
# seconds), but its caller has moved on at its deadline.
RESOLVERS = 32
# How often the watchdog shuts again a connection past its deadline (one whose socket was
# still being made when the deadline came).
WATCH_AGAIN = 0.05


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # None: no answer came
    response: str  # the body's first RESPONSE_KEPT bytes, as text
    error: str  # why it is not a success, "" for a 2xx
    duration_ms: int
    location: str = ""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order (DNS: what the tests replace)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@cache
def _resolvers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=RESOLVERS, thread_name_prefix="bespin-callbacks-resolve")


def _resolve_by(host: str, port: int, deadline: float) -> list[str]:
    """resolve(), given up on at the deadline (TimeoutError)."""
    lookup = _resolvers().submit(lambda: resolve(host, port))
    try:
        return lookup.result(timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        lookup.cancel()
        raise


class _Watchdog:
    """Shuts the socket of each watched connection once its deadline has passed, and again
    every WATCH_AGAIN seconds until it is released. Shutting a socket (not closing it: the
    thread using it does that) makes a blocked read return and a blocked write fail at once."""

    def __init__(self):
        self._lock = threading.Condition()
        self._deadlines: list[tuple[float, int]] = []  # a heap of (deadline, token)
        self._watched: dict[int, http.client.HTTPConnection] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, connection: http.client.HTTPConnection, deadline: float) -> int:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bespin-callbacks-deadlines", daemon=True)
                self._thread.start()
            token = next(self._tokens)
            self._watched[token] = connection
            heapq.heappush(self._deadlines, (deadline, token))
            self._lock.notify()
            return token

    def release(self, token: int) -> None:
        with self._lock:
            self._watched.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._deadlines and self._deadlines[0][1] not in self._watched:
                    heapq.heappop(self._deadlines)  # released
                wait = self._deadlines[0][0] - time.monotonic() if self._deadlines else None
                if wait is None or wait > 0:
                    self._lock.wait(wait)
                    continue
                _, token = heapq.heappop(self._deadlines)
                heapq.heappush(self._deadlines, (time.monotonic() + WATCH_AGAIN, token))
                # Under the lock: once release() has returned, its connection is never shut.
                _shut(self._watched[token])


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:
        return
    try:
        # The plain socket's shutdown, TLS or not: no TLS close_notify from this thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # closed meanwhile


_watchdog = _Watchdog()


@cache
def tls_context() -> ssl.SSLContext:
    """Certificates checked against the system's trust store and the URL's host name."""
    return ssl.create_default_context()


class _VettedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address chosen beforehand, with SNI and the certificate check on the URL's host."""

    def __init__(self, address: str, port: int, *, server_name: str, timeout: float):
        super().__init__(address, port, timeout=timeout, context=tls_context())
        self.server_name = server_name

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.server_name)


class _Kept(threading.local):
    def __init__(self):
        self.connections: dict[tuple[str, str, int], tuple[http.client.HTTPConnection, float]] = {}


_kept = _Kept()


def _connection(target: Target, deadline: float, allow_private: bool) -> http.client.HTTPConnection:
    key = (target.scheme, target.host, target.port)
    kept = _kept.connections.pop(key, None)
    if kept is not None:
        connection, last_used = kept
        if time.monotonic() - last_used < IDLE_SECONDS and connection.sock is not None:
            connection._bespin_reused = True
            return connection
        connection.close()
    try:
        resolved = _resolve_by(target.host, target.port, deadline)
    except TimeoutError:
        raise
    except (OSError, UnicodeError) as error:
        raise ConnectionError(f"could not resolve {target.host}: {error}") from None
    address = vetted_addresses(target, resolved, allow_private=allow_private)[0]
    # Connecting (and the TLS handshake) gives up at the deadline too; the watchdog makes sure.
    timeout = max(0.001, deadline - time.monotonic())
    if target.scheme == "https":
        connection = _VettedHTTPSConnection(address, target.port, server_name=target.host, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(address, target.port, timeout=timeout)
    connection._bespin_reused = False
    return connection


def _keep(target: Target, connection: http.client.HTTPConnection) -> None:
    connections = _kept.connections
    if len(connections) >= CONNECTIONS_PER_THREAD:
        oldest = min(connections, key=lambda key: connections[key][1])
        connections.pop(oldest)[0].close()
    connections[(target.scheme, target.host, target.port)] = (connection, time.monotonic())


def _exchange(connection, target: Target, body: bytes, headers: dict, deadline: float):
    """Send the POST and read the answer by the deadline; (status, kept bytes, Location,
    reusable). Past the deadline: TimeoutError, whatever the socket was doing."""
    watched = _watchdog.watch(connection, deadline)
    try:
        connection.request("POST", target.path, body=body, headers={"Host": target.host_header, **headers})
        _time_left(connection, deadline)
        answer = connection.getresponse()
        kept = answer.read(RESPONSE_KEPT)
        _time_left(connection, deadline)
        answer.read(DRAIN_MAX)
    except (OSError, http.client.HTTPException):
        if time.monotonic() >= deadline:
            raise TimeoutError from None  # the watchdog shut it: whatever broke, the deadline came
        raise
    finally:
        _watchdog.release(watched)
    # An answer that ended just as the deadline came counts; its connection may have been shut.
    reusable = answer.isclosed() and not answer.will_close and connection.sock is not None
    reusable = reusable and time.monotonic() < deadline
    return answer.status, kept, answer.getheader("Location", ""), reusable


def _time_left(connection, deadline: float) -> None:
    # No single read waits past the deadline (the watchdog ends the rest); the socket is gone
    # once an answer that closes the connection (HTTP/1.0, `Connection: close`) has been read.
    if connection.sock is not None:
        connection.sock.settimeout(max(0.001, deadline - time.monotonic()))


def post(*, url: str, body: bytes, headers: dict, timeout: float, allow_private: bool) -> Answer:
    """POST `body` to `url`; never raises. Whatever is not a 2xx answer is an Answer with an
    `error` saying why: a refused address, no connection, a timeout, a status."""
    started = time.monotonic()
    deadline = started + timeout

    def ended(status=None, kept=b"", error="", location="") -> Answer:
        response = kept.decode("utf-8", errors="replace").replace("\x00", "\\x00")
        duration = round((time.monotonic() - started) * 1000)
        return Answer(status, response, error, duration, location)

    try:
        target = check_url(url, allow_private=allow_private)
    except RefusedUrl as refused:
        return ended(error=f"refused: the URL {refused}")
    for _ in range(2):
        try:
            connection = _connection(target, deadline, allow_private)
        except RefusedUrl as refused:
            return ended(error=f"refused: {refused}")
        except ConnectionError as error:
            return ended(error=str(error))
        except TimeoutError:
            return ended(error=f"no answer within {timeout:g} s (resolving {target.host} timed out)")
        try:
            status, kept, location, reusable = _exchange(connection, target, body, headers, deadline)
        except _STALE as error:
            connection.close()
            if connection._bespin_reused and time.monotonic() < deadline:
                continue  # the server had closed the kept connection: once more on a new one
            return ended(error=f"no answer: {_describe(error)}")
        except TimeoutError:
            connection.close()
            return ended(error=f"no answer within {timeout:g} s (timed out)")
        except ssl.SSLError as error:
            connection.close()
            return ended(error=f"TLS failed: {_describe(error)}")
        except (OSError, http.client.HTTPException) as error:
            connected = connection.sock is not None
            connection.close()
            if not connected:
                return ended(error=f"could not connect to {connection.host} port {connection.port}: {_describe(error)}")
            return ended(error=f"no answer: {_describe(error)}")
        if reusable:
            _keep(target, connection)
        else:
            connection.close()
        return ended(status, kept, _status_error(status, location), location)
    return ended(error="no answer: the connection was closed twice")


def _status_error(status: int, location: str) -> str:
    if 200 <= status < 300:
        return ""
    if 300 <= status < 400:
        where = f" to {location[:200]}" if location else ""
        return f"answered {status}: a redirect{where}, not followed"
    if status == 410:
        return "answered 410 Gone: no more attempts"
    return f"answered {status}"


def _describe(error: BaseException) -> str:
    text = str(error).replace("\x00", "\\x00")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def close_all() -> None:
    """Close this thread's kept connections."""
    for connection, _ in _kept.connections.values():
        connection.close()
    _kept.connections.clear()
