"""The fake OpenAI-compatible server itself, driven with plain urllib (not our client)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.fakes.llm_server import FakeLLM


MSGS = [{"role": "user", "content": "hello"}]


def post(server: FakeLLM, path: str, body: Any, timeout: float = 5) -> tuple[int, dict, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        server.base_url + path,
        data=data,
        headers={"Content-Type": "application/json", "Authorization": "Bearer k"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def chat(server: FakeLLM, *, timeout: float = 5, **extra: Any) -> tuple[int, dict, bytes]:
    return post(server, "/chat/completions", {"model": "m", "messages": MSGS, **extra}, timeout)


def sse_events(raw: bytes) -> list[Any]:
    out = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_queue_order_and_exhaustion(fake_llm: FakeLLM) -> None:
    fake_llm.reply("first").error(503, retry_after=2)
    status, _, body = chat(fake_llm)
    assert status == 200
    reply = json.loads(body)
    assert reply["choices"][0]["message"]["content"] == "first"
    assert reply["usage"]["prompt_tokens"] == fake_llm.count_tokens(MSGS)
    status, headers, _ = chat(fake_llm)
    assert status == 503 and headers["Retry-After"] == "2"
    status, _, body = chat(fake_llm)
    assert status == 500 and b"script exhausted" in body
    assert fake_llm.pending() == 0
    assert len(fake_llm.requests) == 3
    assert fake_llm.requests[0].headers["authorization"] == "Bearer k"


def test_stream_text_tool_calls_and_usage(fake_llm: FakeLLM) -> None:
    fake_llm.tool_calls(("insert", {"a": 1}), ("bad", "{oops"), content="ok then")
    _, headers, raw = chat(fake_llm, stream=True, stream_options={"include_usage": True})
    assert headers["Content-Type"] == "text/event-stream"
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "ok then"
    calls = [
        tc["function"]
        for c in chunks
        if c["choices"]
        for tc in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert calls == [
        {"name": "insert", "arguments": '{"a": 1}'},
        {"name": "bad", "arguments": "{oops"},
    ]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "tool_calls"


def test_stream_without_usage_option_sends_no_usage(fake_llm: FakeLLM) -> None:
    fake_llm.reply("a b")
    events = sse_events(chat(fake_llm, stream=True)[2])
    assert all("usage" not in e for e in events[:-1])


def test_handler_receives_body_and_errors_become_500(fake_llm: FakeLLM) -> None:
    seen: list[dict] = []

    def route(body: dict) -> str:
        seen.append(body)
        if body["messages"][0]["content"] == "boom":
            raise KeyError("no route")
        return "routed"

    fake_llm.handler(route)
    assert json.loads(chat(fake_llm)[2])["choices"][0]["message"]["content"] == "routed"
    status, _, body = post(
        fake_llm, "/chat/completions", {"messages": [{"role": "user", "content": "boom"}]}
    )
    assert status == 500 and b"KeyError" in body
    assert len(seen) == 2 and fake_llm.pending() == 1  # persistent handler stays


def test_bad_request_body_is_400_and_recorded(fake_llm: FakeLLM) -> None:
    status, _, _ = post(fake_llm, "/chat/completions", b"not json")
    assert status == 400
    assert fake_llm.requests[0].body is None and fake_llm.requests[0].raw == b"not json"


def test_embeddings_are_deterministic_unit_vectors(fake_llm: FakeLLM) -> None:
    _, _, a = post(fake_llm, "/embeddings", {"model": "e", "input": ["x", "y"]})
    _, _, b = post(fake_llm, "/embeddings", {"model": "e", "input": "x"})
    va, vb = json.loads(a)["data"], json.loads(b)["data"]
    assert va[0]["embedding"] == vb[0]["embedding"] != va[1]["embedding"]
    assert len(va[0]["embedding"]) == fake_llm.embedding_dim
    assert abs(sum(v * v for v in va[0]["embedding"]) - 1) < 1e-9


def test_all_request_text_and_models(fake_llm: FakeLLM) -> None:
    fake_llm.reply("x")
    post(fake_llm, "/chat/completions", {"messages": [{"role": "user", "content": "hunter2"}]})
    assert "hunter2" in fake_llm.all_request_text()
    with urllib.request.urlopen(fake_llm.base_url + "/models", timeout=5) as resp:
        ids = [m["id"] for m in json.loads(resp.read())["data"]]
    assert ids == fake_llm.models


def test_delay_outlasts_a_client_timeout_then_answers(fake_llm: FakeLLM) -> None:
    fake_llm.delay(30, "never").delay(0.05, "soon")
    with pytest.raises(TimeoutError):
        chat(fake_llm, timeout=0.2)
    status, _, body = chat(fake_llm)
    assert status == 200 and json.loads(body)["choices"][0]["message"]["content"] == "soon"
