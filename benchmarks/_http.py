"""A minimal HTTP/1.1 client on asyncio streams, for the server figures.

One keep-alive connection per client, requests written as bytes and answers parsed
just enough (status, headers, a ``Content-Length`` or chunked body, server-sent
events). The load generator shares the machine with the servers it measures, so it
must cost far less per request than they do: httpx costs several hundred microseconds
of client CPU per request, this a few tens. It speaks to loopback only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return orjson.loads(self.body)


class Connection:
    """One keep-alive connection to ``host:port``; reconnects when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._clean = True  # False while an answer is partly read (a stream left early)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not self._clean:
            self.close()
        if self._reader is None or self._writer is None or self._reader.at_eof():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    def _head(self, method: str, path: str, body: bytes | None) -> bytes:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: */*",
        ]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    async def _send(
        self, method: str, path: str, payload: object | None
    ) -> tuple[asyncio.StreamReader, int, dict[str, str]]:
        body = None if payload is None else orjson.dumps(payload)
        reader, writer = await self._open()
        writer.write(self._head(method, path, body))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:  # the server closed an idle connection
            self.close()
            reader, writer = await self._open()
            writer.write(self._head(method, path, body))
            head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        return reader, int(status_line.split(" ", 2)[1]), headers

    async def request(self, method: str, path: str, payload: object | None = None) -> Answer:
        reader, status, headers = await self._send(method, path, payload)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b"".join([chunk async for chunk in _chunks(reader)])
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Answer(status, headers, body)

    async def events(
        self, method: str, path: str, payload: object | None = None
    ) -> AsyncIterator[tuple[str, bytes]]:
        """The server-sent events of a streamed answer, as (event, data), to its end.
        Comments (heartbeats) are skipped; an answer that is not a stream raises."""
        reader, status, _ = await self._send(method, path, payload)
        if status != 200:
            body = b"".join([c async for c in _chunks(reader)])
            self.close()
            raise RuntimeError(f"{method} {path}: {status} {body[:300]!r}")
        buffer = b""
        self._clean = False  # until the last chunk is read: a reader that stops early
        async for chunk in _chunks(reader):
            buffer += chunk.replace(b"\r\n", b"\n")
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                event, data = "message", b""
                for line in block.split(b"\n"):
                    if line.startswith(b"event:"):
                        event = line[6:].strip().decode()
                    elif line.startswith(b"data:"):
                        data += line[5:].strip()
                if block and not block.startswith(b":"):
                    yield event, data
        self._clean = True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._clean = True


async def _chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The chunks of a ``Transfer-Encoding: chunked`` body, to its last (empty) one."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent
            return
        chunk = await reader.readexactly(size + 2)
        yield chunk[:-2]
