"""A real OpenAI-compatible HTTP server on 127.0.0.1, scripted per test.

Every LLM test talks to this over real HTTP so the client, its retries, timeouts and SSE
parsing are exercised end to end. Chat completions are answered from a queue of scripted
steps; when the queue is empty the server answers 500 "script exhausted" so a test that
makes more calls than it scripted notices. Register the `fake_llm` fixture with
`pytest_plugins = ["tests.fakes.llm_server"]` in tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Calls = tuple[tuple[str, "dict[str, Any] | str"], ...]


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it (headers with lower-cased names)."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any  # parsed JSON, or None when the body was empty or not JSON


@dataclass
class Step:
    """One scripted answer. Build with FakeLLM methods or the module helpers."""

    kind: str  # "text" | "tools" | "error" | "malformed" | "disconnect" | "raw"
    text: str = ""
    calls: Calls = ()
    status: int = 200
    retry_after: float | None = None
    body: str | None = None
    usage: tuple[int, int] | None = None
    delay: float = 0.0
    chunks: int | None = None
    finish_reason: str | None = None
    raw: Any = None
    message: str = ""


def text(reply: str, *, usage: tuple[int, int] | None = None, chunks: int | None = None) -> Step:
    """A plain assistant reply; streamed as `chunks` deltas (default: one per word)."""
    return Step("text", text=reply, usage=usage, chunks=chunks)


def tools(*calls: tuple[str, dict[str, Any] | str], content: str = "") -> Step:
    """Tool calls; arguments given as a str are sent verbatim (may be malformed JSON)."""
    if not calls:
        raise ValueError("tools() needs at least one (name, arguments) pair")
    return Step("tools", text=content, calls=tuple(calls))


def error(status: int, *, retry_after: float | None = None, body: str | None = None) -> Step:
    """An HTTP error status with an OpenAI-style error body (or `body` verbatim)."""
    if status < 400:
        raise ValueError(f"error status must be >= 400, got {status}")
    return Step("error", status=status, retry_after=retry_after, body=body)


Answer = Step | str | list | dict
Handler = Callable[[Any], Answer]


def _as_step(answer: Answer) -> Step:
    """What a handler may return: a Step, a text, a list of tool calls, or a raw JSON body."""
    if isinstance(answer, Step):
        return answer
    if isinstance(answer, str):
        return text(answer)
    if isinstance(answer, list):
        return tools(*answer)
    if isinstance(answer, dict):
        return Step("raw", raw=answer)
    raise TypeError(f"handler returned {type(answer).__name__}; expected Step, str, list or dict")


@dataclass
class _Entry:
    step: Step | None = None
    fn: Handler | None = None
    times: int | None = 1  # None: never consumed


def count_tokens(value: Any) -> int:
    """Deterministic token estimate: ~4 characters of canonical JSON per token."""
    blob = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return max(1, math.ceil(len(blob) / 4))


def _split(reply: str, chunks: int | None) -> list[str]:
    if not reply:
        return []
    if chunks is None:
        words = reply.split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]] if len(words) > 1 else [reply]
    size = max(1, math.ceil(len(reply) / max(1, chunks)))
    return [reply[i : i + size] for i in range(0, len(reply), size)]


class FakeLLM:
    """Scripted OpenAI-compatible server: chat completions (plain + SSE), models, embeddings."""

    def __init__(
        self,
        *,
        models: list[str] | None = None,
        embedding_dim: int = 16,
        exhausted_status: int = 500,
    ) -> None:
        self.models: list[str] = list(models or ["fake-model", "fake-vision"])
        self.models_status = 200  # set e.g. 404 to mimic a server without /v1/models
        self.embedding_dim = embedding_dim
        self.exhausted_status = exhausted_status
        self.requests: list[Recorded] = []
        self._queue: deque[_Entry] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._seq = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    count_tokens = staticmethod(count_tokens)  # the estimate behind every usage field

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeLLM:
        owner = self

        class _Handler(_RequestHandler):
            fake = owner

        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------
    def _push(self, entry: _Entry) -> FakeLLM:
        with self._lock:
            self._queue.append(entry)
        return self

    def reply(
        self, text: str, *, usage: tuple[int, int] | None = None, chunks: int | None = None
    ) -> FakeLLM:
        """Queue a text reply; `usage=(prompt, completion)` overrides the computed counts."""
        return self._push(_Entry(Step("text", text=text, usage=usage, chunks=chunks)))

    def tool_calls(self, *calls: tuple[str, dict[str, Any] | str], content: str = "") -> FakeLLM:
        """Queue a reply with tool calls (arguments: dict, or a raw possibly-malformed str)."""
        return self._push(_Entry(tools(*calls, content=content)))

    def error(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        body: str | None = None,
    ) -> FakeLLM:
        """Queue `times` error answers with this status (and Retry-After header if given)."""
        return self._push(_Entry(error(status, retry_after=retry_after, body=body), times=times))

    def delay(self, seconds: float, then: Step | str = "ok", *, times: int = 1) -> FakeLLM:
        """Queue an answer sent only after `seconds` (to trigger client timeouts)."""
        step = _as_step(then)
        delayed = Step(**{**step.__dict__, "delay": seconds})
        return self._push(_Entry(delayed, times=times))

    def malformed(self, *, times: int = 1) -> FakeLLM:
        """Queue a 200 answer whose JSON body (or SSE event) is truncated."""
        return self._push(_Entry(Step("malformed"), times=times))

    def disconnect(self, *, times: int = 1) -> FakeLLM:
        """Queue a dropped connection: the socket closes without any response."""
        return self._push(_Entry(Step("disconnect"), times=times))

    def raw(self, body: dict[str, Any]) -> FakeLLM:
        """Queue a 200 answer with exactly this JSON body."""
        return self._push(_Entry(Step("raw", raw=body)))

    def handler(self, fn: Handler, *, times: int | None = None) -> FakeLLM:
        """Queue a callable(request_json) -> Step | str | [(name, args)] | dict.

        With times=None (default) it answers every remaining request (routing logic).
        """
        return self._push(_Entry(fn=fn, times=times))

    def pending(self) -> int:
        """Scripted answers not yet consumed (a persistent handler counts as one)."""
        with self._lock:
            return sum(1 if e.times is None else e.times for e in self._queue)

    # -- inspection ------------------------------------------------------------------------
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def all_request_text(self) -> str:
        """Every recorded request body, concatenated (for "secret never sent" asserts)."""
        with self._lock:
            return "\n".join(r.raw.decode("utf-8", "replace") for r in self.requests)

    # -- serving (called from handler threads) ---------------------------------------------
    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _next_step(self, body: Any) -> Step:
        with self._lock:
            if not self._queue:
                return Step("error", status=self.exhausted_status, message="script exhausted")
            entry = self._queue[0]
            if entry.times is not None:
                entry.times -= 1
                if entry.times <= 0:
                    self._queue.popleft()
        if entry.fn is not None:
            return _as_step(entry.fn(body))
        assert entry.step is not None
        return entry.step

    def _next_id(self) -> str:
        with self._lock:
            self._seq += 1
            return f"chatcmpl-fake-{self._seq}"

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when the answer should still be sent."""
        return not self._stopping.wait(seconds) if seconds > 0 else True

    def _embed(self, item: str) -> list[float]:
        digest = hashlib.sha256(item.encode()).digest()
        while len(digest) < self.embedding_dim:
            digest += hashlib.sha256(digest).digest()
        vec = [(b - 127.5) / 127.5 for b in digest[: self.embedding_dim]]
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up are expected; stay quiet about broken pipes."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    fake: FakeLLM
    protocol_version = "HTTP/1.0"
    server_version = "FakeLLM/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _read(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = Recorded(self.command, self.path.split("?")[0], headers, raw, body)
        self.fake._record(rec)
        return rec

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        rec = self._read()
        if rec.path.endswith("/models"):
            if self.fake.models_status != 200:
                self._send_error(self.fake.models_status, "models listing not available")
                return
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                for m in self.fake.models
            ]
            self._send_json(200, {"object": "list", "data": data})
            return
        self._send_error(404, f"no route for GET {rec.path}")

    def do_POST(self) -> None:
        rec = self._read()
        if rec.path.endswith("/chat/completions"):
            self._chat(rec)
        elif rec.path.endswith("/embeddings"):
            self._embeddings(rec)
        else:
            self._send_error(404, f"no route for POST {rec.path}")

    def _send_error(self, status: int, message: str, step: Step | None = None) -> None:
        headers: dict[str, str] = {}
        if step is not None and step.retry_after is not None:
            headers["Retry-After"] = f"{step.retry_after:g}"
        if step is not None and step.body is not None:
            payload: Any = step.body.encode()
        else:
            kind = {401: "invalid_request_error", 429: "rate_limit_error"}.get(status, "api_error")
            payload = {"error": {"message": message, "type": kind, "code": status}}
        self._send_json(status, payload, headers)

    def _embeddings(self, rec: Recorded) -> None:
        body = rec.body if isinstance(rec.body, dict) else {}
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            self._send_error(400, "input must be a string or a list of strings")
            return
        data = [
            {"object": "embedding", "index": i, "embedding": self.fake._embed(s)}
            for i, s in enumerate(inputs)
        ]
        tokens = sum(count_tokens(s) for s in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        model = body.get("model", "fake-embed")
        self._send_json(200, {"object": "list", "data": data, "model": model, "usage": usage})

    def _chat(self, rec: Recorded) -> None:
        body = rec.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error(400, "body must be a JSON object with a 'messages' list")
            return
        try:
            step = self.fake._next_step(body)
        except Exception as exc:  # a test's handler raised: answer 500 so the test sees it
            self._send_error(500, f"fake handler raised {type(exc).__name__}: {exc}")
            return
        if not self.fake._wait(step.delay):
            return
        if step.kind == "disconnect":
            self.close_connection = True
            return
        if step.kind == "error":
            self._send_error(step.status, step.message or f"scripted {step.status}", step)
            return
        if step.kind == "raw":
            self._send_json(200, step.raw)
            return
        model = body.get("model", "fake-model")
        prompt_tokens = count_tokens(body["messages"])
        if body.get("stream"):
            self._stream(body, step, model, prompt_tokens)
        else:
            self._complete(step, model, prompt_tokens)

    def _tool_call_dicts(self, step: Step) -> list[dict[str, Any]]:
        out = []
        for i, (name, args) in enumerate(step.calls):
            raw = args if isinstance(args, str) else json.dumps(args)
            out.append(
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": raw},
                }
            )
        return out

    def _usage(self, step: Step, prompt_tokens: int, completion: str) -> dict[str, int]:
        p, c = step.usage if step.usage is not None else (prompt_tokens, count_tokens(completion))
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def _completion_text(self, step: Step) -> str:
        return step.text + "".join(
            a if isinstance(a, str) else json.dumps(a) for _, a in step.calls
        )

    def _complete(self, step: Step, model: str, prompt_tokens: int) -> None:
        if step.kind == "malformed":
            self._send_json(200, b'{"id": "chatcmpl-broken", "choices": [{"message": {"con')
            return
        message: dict[str, Any] = {"role": "assistant", "content": step.text or None}
        finish = step.finish_reason or "stop"
        if step.kind == "tools":
            message["tool_calls"] = self._tool_call_dicts(step)
            finish = step.finish_reason or "tool_calls"
        payload = {
            "id": self.fake._next_id(),
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self._usage(step, prompt_tokens, self._completion_text(step)),
        }
        self._send_json(200, payload)

    def _stream(self, body: dict[str, Any], step: Step, model: str, prompt_tokens: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        cid = self.fake._next_id()

        def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        for chunk in self._stream_events(step, event):
            self.wfile.write(chunk)
            self.wfile.flush()
        opts = body.get("stream_options") or {}
        if step.kind != "malformed" and opts.get("include_usage"):
            usage = self._usage(step, prompt_tokens, self._completion_text(step))
            final = {**event({}), "choices": [], "usage": usage}
            self.wfile.write(_sse(final))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _stream_events(self, step: Step, event: Callable[..., dict[str, Any]]) -> Iterator[bytes]:
        yield _sse(event({"role": "assistant", "content": ""}))
        if step.kind == "malformed":
            yield b'data: {"id": "broken", "choices": [{"delta": {"cont\n\n'
            return
        for piece in _split(step.text, step.chunks):
            yield _sse(event({"content": piece}))
        if step.kind == "tools":
            for i, call in enumerate(self._tool_call_dicts(step)):
                yield _sse(event({"tool_calls": [{"index": i, **call}]}))
        finish = step.finish_reason or ("tool_calls" if step.kind == "tools" else "stop")
        yield _sse(event({}, finish))


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A started FakeLLM on 127.0.0.1 (`.base_url` ends in /v1), stopped after the test."""
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


__all__ = [
    "FakeLLM",
    "Recorded",
    "Step",
    "count_tokens",
    "error",
    "fake_llm",
    "text",
    "tools",
]
