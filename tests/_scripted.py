"""Small loopback HTTP servers written for a test: each request answered by a function
of the test, everything received recorded (to drive a client into a 429, a cut stream,
a 500)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[BaseHTTPRequestHandler, int], None]


class Scripted:
    """A loopback HTTP server answering each request with ``handler(request, n)`` (n:
    how many came before on that path), recording what it received."""

    def __init__(self, handler: Handler) -> None:
        self.seen: list[tuple[str, str, dict[str, str], float]] = []
        self.bodies: list[bytes] = []
        scripted = self

        class H(BaseHTTPRequestHandler):
            def _any(self) -> None:
                n = sum(1 for s in scripted.seen if s[1] == self.path)
                scripted.seen.append(
                    (self.command, self.path, dict(self.headers.items()), time.monotonic())
                )
                length = int(self.headers.get("Content-Length") or 0)
                scripted.bodies.append(self.rfile.read(length))
                handler(self, n)

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def answer(
    req: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        req.send_header(k, v)
    req.end_headers()
    req.wfile.write(data)
