"""Django's HTTP side served as WSGI in a pool of threads, under the ASGI server.

Bespin's views and middleware are synchronous. Under Django's ASGI handler every request
crosses between the event loop and threads more than a dozen times (each middleware's
process_request and process_response is its own sync_to_async hop, and so are the request
signals): about 5.7 ms of a trivial request here, against 0.5 ms for the same request through
Django's WSGI handler. This bridge makes one crossing per request: the body is read on the
loop, the whole WSGI request runs in one thread of the loop's default pool, and the answer is
written back on the loop. WebSockets stay with Channels, fully async.

asgiref's WsgiToAsgi does the same but runs every request in one shared thread, one at a
time, and never closes the response (so Django's request_finished, which returns database
connections to the pool, would not fire).
"""

import asyncio
from tempfile import SpooledTemporaryFile

from asgiref.wsgi import WsgiToAsgiInstance

BAD_REQUEST = (400, [(b"content-type", b"application/json")], [b'{"error": "bad request"}'])


class ThreadedWsgi:
    def __init__(self, wsgi_application):
        self.wsgi_application = wsgi_application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return  # nothing to start or stop
        with SpooledTemporaryFile(max_size=65536) as body:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body.write(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body.seek(0)
            status, headers, chunks = await asyncio.get_running_loop().run_in_executor(None, self.run, scope, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    def run(self, scope, body) -> tuple[int, list, list[bytes]]:
        adapter = WsgiToAsgiInstance(self.wsgi_application)
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
