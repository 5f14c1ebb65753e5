"""Django's HTTP side served as WSGI in a pool of threads, under the ASGI server.

Bespin's views and middleware are synchronous. Under Django's ASGI handler every request
crosses between the event loop and threads more than a dozen times (each middleware's
process_request and process_response is its own sync_to_async hop, and so are the request
signals): several times what the same request costs through Django's WSGI handler
(docs/BENCHMARKS.md). This bridge makes one crossing per request: the body is read on the
loop, the whole WSGI request runs in one thread of the loop's default pool, and the answer is
written back on the loop. WebSockets stay with Channels, fully async.

asgiref's WsgiToAsgi does the same but runs every request in one shared thread, one at a
time, and never closes the response (so Django's request_finished, which returns database
connections to the pool, would not fire).

The body is read no further than its limit (bespin.server.bodylimit): past it the answer is 413
and Django never runs.
"""

import asyncio
import io

from asgiref.wsgi import WsgiToAsgiInstance

from bespin.server import bodylimit

JSON = (b"content-type", b"application/json")
BAD_REQUEST = (400, [JSON], [b'{"error": "bad request"}'])


class ThreadedWsgi:
    def __init__(self, wsgi_application):
        self.wsgi_application = wsgi_application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return  # nothing to start or stop
        try:
            body = await bodylimit.read_body(scope, receive)
        except bodylimit.Disconnected:
            return
        except bodylimit.TooLarge:
            status, headers, chunks = 413, [JSON, (b"connection", b"close")], [bodylimit.too_large_body(scope["path"])]
        else:
            run = self.run
            status, headers, chunks = await asyncio.get_running_loop().run_in_executor(
                None, run, scope, io.BytesIO(body)
            )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    def run(self, scope, body) -> tuple[int, list, list[bytes]]:
        adapter = WsgiToAsgiInstance(self.wsgi_application)
        # A header name with an underscore would become the same WSGI key as its dashed twin
        # (X_Forwarded_For as X-Forwarded-For): dropped, as Django's own handlers and Daphne
        # do. uvicorn passes such headers on.
        scope = {**scope, "headers": [(name, value) for name, value in scope["headers"] if b"_" not in name]}
        adapter.scope = scope
        try:
            environ = adapter.build_environ(scope, body)
        except ValueError:  # more duplicate headers than allowed
            return BAD_REQUEST
        started = {}

        def start_response(status, response_headers, exc_info=None):
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response_headers]

        result = self.wsgi_application(environ, start_response)
        try:
            chunks = list(result)
        finally:
            # Django's request_finished fires here: database connections go back to the pool.
            if hasattr(result, "close"):
                result.close()
        return started["status"], started["headers"], chunks
