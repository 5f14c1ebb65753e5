"""A callback receiver for the tests, run as its own process:

    python receiver.py LOG_FILE [--fail-first N] [--status CODE] [--sleep S] [--hold-first]
                                [--location URL] [--body TEXT] [--http10] [--trickle S]

It listens on 127.0.0.1 on a free port (printed on its first line), and verifies each
request's signature with the Standard Webhooks reference library (`standardwebhooks`),
against each secret in $RECEIVER_SECRETS (space-separated), independently of Bespin's code.
Every request is appended to LOG_FILE as one JSON line: headers, body, which secrets verified
it, and the status it was answered. It answers 500 to the first N requests, then CODE
(default 204); --sleep waits before answering; --hold-first never answers the first request
(until the process is killed); --location adds a Location header (a redirect); --trickle
sends its answer one byte every S seconds.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--status", type=int, default=204)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--hold-first", action="store_true")
    parser.add_argument("--location", default="")
    parser.add_argument("--body", default="")
    parser.add_argument("--http10", action="store_true", help="answer as HTTP/1.0: one request per connection")
    parser.add_argument("--trickle", type=float, default=0.0, help="seconds between the bytes of each answer")
    options = parser.parse_args()
    secrets = os.environ.get("RECEIVER_SECRETS", "").split()
    lock = threading.Lock()
    seen = {"count": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the sender expects

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                seen["count"] += 1
                number = seen["count"]
            headers = {name.lower(): value for name, value in self.headers.items()}
            verified = []
            for index, secret in enumerate(secrets):
                try:
                    Webhook(secret).verify(body, headers)
                    verified.append(index)
                except WebhookVerificationError:
                    pass
            status = 500 if number <= options.fail_first else options.status
            entry = {"number": number, "path": self.path, "headers": headers, "body": body.decode(),
                     "verified_by": verified, "status": status}  # fmt: skip
            with lock, open(options.log, "a") as log:
                log.write(json.dumps(entry) + "\n")
            if options.hold_first and number == 1:
                time.sleep(3600)
            if options.sleep:
                time.sleep(options.sleep)
            answer = (options.body or f"attempt {number}: {status}").encode()
            if options.trickle:
                head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(answer)}\r\n\r\n".encode()
                try:
                    for byte in head + answer:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(options.trickle)
                except OSError:
                    self.close_connection = True  # the sender gave up
                return
            self.send_response(status)
            if options.location:
                self.send_header("Location", options.location)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    if options.http10:
        Handler.protocol_version = "HTTP/1.0"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
