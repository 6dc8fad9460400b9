"""Model servers for tests: real TCP servers on 127.0.0.1, each in a thread."""

from __future__ import annotations

import socket
import threading
from typing import Any


class Loopback:
    """A real TCP server on 127.0.0.1 in a thread: ``mode`` "models" answers an
    OpenAI-compatible (or, with the right headers, Anthropic) model list, "garbage"
    answers bytes that are not HTTP, "silent" accepts and never answers."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[Any] = []
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if self.mode == "silent":
                self.held.append(conn)  # never answered, never closed
                continue
            with conn:
                head = conn.recv(65536).decode("latin-1")
                self.requests.append(head)
                if self.mode == "garbage":
                    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
                    continue
                lines = head.lower()
                anthropic = "/v1/models" in head and "anthropic-version: 2023-06-01" in lines
                keyed = "x-api-key: sk-ant-test" in lines
                if anthropic and not keyed:
                    status, body = "401 Unauthorized", b'{"type": "error"}'
                else:
                    status, body = "200 OK", b'{"object": "list", "data": [{"id": "m"}]}'
                conn.sendall(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()
