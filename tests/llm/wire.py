"""A real HTTP/1.1 server on 127.0.0.1 that speaks the OpenAI and Anthropic wire formats.

Two modes, mixed freely:

* **scripted**: ``server.script(Reply(...), ...)`` queues canned answers; each request
  takes the next one, whatever its path. A reply can trickle its body in chunks, pause
  between them, hang before answering, or cut the TCP connection after chunk k (chunked
  encoding with no terminating chunk: a stream that dies mid-way).
* **simulated model** (when the script is empty): ``POST /v1/chat/completions`` and
  ``POST /v1/messages`` are answered deterministically from the request, streaming or
  not, with exact usage. The answer is ``min(max_tokens, DEFAULT_TOKENS)`` word tokens
  chosen by the request's seed and prompt; stop sequences cut it like a real server.

Every request is recorded (method, path, lower-cased headers, parsed JSON body).
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TOKENS = 12
WORDS = ["orca", "graph", "node", "state", "step", "token", "model", "agent", "tool", "plan"]


@dataclass
class Reply:
    """One canned answer. ``chunks`` is the body, written one chunk at a time (chunked
    transfer encoding when there is more than one); ``delay`` pauses before each chunk,
    ``hang`` before the status line; ``cut_after=k`` closes the connection after k chunks;
    ``stall_after=k`` sends k chunks, then nothing until the server closes."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    delay: float = 0.0
    hang: float = 0.0
    cut_after: int | None = None
    stall_after: int | None = None

    @staticmethod
    def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """A JSON answer with a Content-Length."""
        head = {"content-type": "application/json", **(headers or {})}
        return Reply(status, head, [json.dumps(body).encode()])

    @staticmethod
    def sse(events: list[bytes], **options: Any) -> Reply:
        """A ``text/event-stream`` answer, one event per chunk."""
        return Reply(200, {"content-type": "text/event-stream"}, events, **options)


def openai_events(chunks: list[dict[str, Any]], done: bool = True) -> list[bytes]:
    """OpenAI stream lines: ``data: {json}`` per chunk, then ``data: [DONE]``."""
    lines = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
    return [*lines, b"data: [DONE]\n\n"] if done else lines


def anthropic_events(events: list[dict[str, Any]]) -> list[bytes]:
    """Anthropic stream events: ``event: <type>`` and ``data: {json}`` per event."""
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]


class SleepRecorder(list[float]):
    """An async ``sleep=`` for a model that records each backoff wait instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass
class Recorded:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class WireServer:
    """The server, serving on a background thread until ``close()``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.closing = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.wire = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; OpenAI clients want ``url + "/v1"``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def script(self, *replies: Reply) -> None:
        """Queue canned answers for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def next_reply(self, path: str, body: Any) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return simulate(path, body)

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    def close(self) -> None:
        self.closing.set()  # wakes handlers that hang or pause
        self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        wire: WireServer = self.server.wire  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        headers = {k.lower(): v for k, v in self.headers.items()}
        wire.requests.append(Recorded(self.command, self.path, headers, body))
        try:
            self._send(wire.next_reply(self.path, body), wire.closing)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first
            self.close_connection = True

    do_GET = do_POST

    def _send(self, reply: Reply, closing: threading.Event) -> None:
        if reply.hang and closing.wait(reply.hang):
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        chunked = len(reply.chunks) != 1 or reply.delay > 0
        chunked = chunked or reply.cut_after is not None or reply.stall_after is not None
        if chunked:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(len(reply.chunks[0])))
        self.end_headers()
        for i, chunk in enumerate(reply.chunks):
            if i == reply.cut_after:
                break
            if i == reply.stall_after:
                closing.wait()
                break
            if reply.delay and closing.wait(reply.delay):
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            self.wfile.flush()
        else:
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            return
        self.close_connection = True  # cut: the body stays incomplete

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass


# -- the simulated model -----------------------------------------------------------------------


def _answer(body: dict[str, Any], cap: int | None, stop: list[str]) -> tuple[list[str], str]:
    """The output tokens and why they ended: ``"length"``, ``"stop"`` or the stop string."""
    prompt = json.dumps(body.get("messages"), sort_keys=True)
    rng = random.Random(f"{body.get('seed')}|{body.get('temperature')}|{prompt}")
    tokens: list[str] = []
    for i in range(min(cap or DEFAULT_TOKENS, DEFAULT_TOKENS)):
        tokens.append(("" if i == 0 else " ") + rng.choice(WORDS))
        text = "".join(tokens)
        hits = sorted((text.index(s), s) for s in stop if s in text)
        if hits:  # keep the text before the stop string, token by token
            end, kept = hits[0][0], []
            for t in tokens:
                if end > 0:
                    kept.append(t[:end])
                end -= len(t)
            return kept, hits[0][1]
    return tokens, "length" if cap is not None and cap <= DEFAULT_TOKENS else "stop"


def _prompt_tokens(body: dict[str, Any]) -> int:
    """Words in the prompt plus three tokens of framing per message."""
    messages = body.get("messages", ())
    texts = [body.get("system"), *(m.get("content") for m in messages)]
    words = sum(len(json.dumps(t).split()) for t in texts if t)
    return words + 3 * len(messages)


def simulate(path: str, body: Any) -> Reply:
    """The simulated model's answer to one request."""
    if path.endswith("/chat/completions"):
        return _openai(body)
    if path.endswith("/messages"):
        return _anthropic(body)
    error = {"message": f"no route {path}", "type": "invalid_request_error"}
    return Reply.json({"error": error}, status=404)


def _openai(body: dict[str, Any]) -> Reply:
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    stop = body.get("stop") or []
    tokens, why = _answer(body, cap, [stop] if isinstance(stop, str) else stop)
    finish = "length" if why == "length" else "stop"
    prompt, done = _prompt_tokens(body), len(tokens)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": done,
        "total_tokens": prompt + done,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    head = {"id": "chatcmpl-sim", "created": 1700000000, "model": body["model"]}
    if not body.get("stream"):
        message = {"role": "assistant", "content": "".join(tokens), "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return Reply.json(
            {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
        )
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    extra = {"usage": None} if with_usage else {}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return {**head, "object": "chat.completion.chunk", "choices": [choice], **extra}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": t}) for t in tokens]
    chunks.append(chunk({}, finish))
    if with_usage:
        chunks.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
    return Reply.sse(openai_events(chunks))


def _anthropic(body: dict[str, Any]) -> Reply:
    tokens, why = _answer(body, body["max_tokens"], body.get("stop_sequences") or [])
    reason = {"length": "max_tokens", "stop": "end_turn"}.get(why, "stop_sequence")
    sequence = why if reason == "stop_sequence" else None
    usage = {
        "input_tokens": _prompt_tokens(body),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": len(tokens),
    }
    message = {"id": "msg_sim", "type": "message", "role": "assistant", "model": body["model"]}
    if not body.get("stream"):
        content = [{"type": "text", "text": "".join(tokens)}]
        done = {"stop_reason": reason, "stop_sequence": sequence, "usage": usage}
        return Reply.json({**message, "content": content, **done})
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    text = {"type": "text", "text": ""}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**start, "usage": {**usage, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": text},
        {"type": "ping"},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
            for t in tokens
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            "usage": {"output_tokens": len(tokens)},
        },
        {"type": "message_stop"},
    ]
    return Reply.sse(anthropic_events(events))
