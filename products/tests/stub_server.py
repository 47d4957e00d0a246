"""A local HTTP server standing in for an upstream, for tests that need real sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (status, headers, body) for a request path; may sleep to simulate a slow upstream.
Handler = Callable[[str], tuple[int, dict[str, str], bytes]]


class StubServer:
    def __init__(self, handler: Handler) -> None:
        self.arrivals: list[float] = []
        stub = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.arrivals.append(time.time())
                status, headers, body = handler(self.path)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its read timeout)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
