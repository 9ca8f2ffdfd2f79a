"""LLMClient against the fake OpenAI-compatible server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import socket
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from engram.core.llm.client import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    LLMClient,
    LLMConfig,
    LLMError,
    Usage,
    model_supports_vision,
)
from engram.core.llm.images import to_data_url
from engram.core.llm.presets import PRESETS, get_preset

if TYPE_CHECKING:
    from tests.fakes.llm_server import FakeLLM

# Until tests/conftest.py registers it for every test, load the `fake_llm` fixture here.

MSGS = [{"role": "user", "content": "What did I work on yesterday?"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "insert",
        "description": "insert a memory",
        "parameters": {"type": "object", "properties": {"summary": {"type": "string"}}},
    },
}


class Recorder:
    """Collects on_usage and sleep calls so tests can check them without waiting."""

    def __init__(self) -> None:
        self.usages: list[Usage] = []
        self.sleeps: list[float] = []


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def make(server: FakeLLM | str, rec: Recorder, **cfg: object) -> LLMClient:
    base = server if isinstance(server, str) else server.base_url
    config = LLMConfig(base_url=base, model=str(cfg.pop("model", "fake-model")), **cfg)  # type: ignore[arg-type]
    return LLMClient(config, on_usage=rec.usages.append, sleep=rec.sleeps.append)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_plain_reply_reports_usage_once(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.reply("You refactored the capture loop.")
    with make(fake_llm, rec) as client:
        result = client.chat(MSGS, max_tokens=50)
    assert result.text == "You refactored the capture loop."
    assert result.tool_calls == ()
    assert result.finish_reason == "stop"
    expected = Usage("fake-model", fake_llm.count_tokens(MSGS), fake_llm.count_tokens(result.text))
    assert result.usage == expected
    assert rec.usages == [expected]
    body = fake_llm.requests[0].body
    assert body["model"] == "fake-model"
    assert body["messages"] == MSGS
    assert body["max_tokens"] == 50
    assert body["temperature"] == 0.2


def test_server_usage_numbers_are_passed_through(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.reply("hi", usage=(1234, 56))
    with make(fake_llm, rec) as client:
        assert client.chat(MSGS).usage == Usage("fake-model", 1234, 56)


def test_missing_usage_is_estimated(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.raw(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "fake-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "abcdefgh"},
                    "finish_reason": "stop",
                }
            ],
        }
    )
    with make(fake_llm, rec) as client:
        result = client.chat(MSGS)
    assert result.usage.completion_tokens == 2  # 8 chars / 4
    assert result.usage.prompt_tokens > 0
    assert rec.usages == [result.usage]


def test_tool_calls_good_and_malformed_arguments(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.tool_calls(
        ("insert", {"summary": "met Ana", "n": 2}),
        ("update", '{"id": "m1", "summary": '),  # truncated JSON
        ("delete", "[1, 2]"),  # valid JSON, not an object
        ("noop", ""),  # no arguments at all
    )
    with make(fake_llm, rec) as client:
        result = client.chat(MSGS, tools=[TOOL], tool_choice="auto")
    good, broken, listy, empty = result.tool_calls
    assert result.finish_reason == "tool_calls"
    assert (good.name, good.arguments, good.error) == (
        "insert",
        {"summary": "met Ana", "n": 2},
        None,
    )
    assert good.id == "call_0"
    assert broken.name == "update" and broken.arguments is None
    assert broken.raw_arguments == '{"id": "m1", "summary": '
    assert broken.error is not None and "not valid JSON" in broken.error
    assert listy.arguments is None and "JSON object" in (listy.error or "")
    assert empty.arguments == {} and empty.error is None
    sent = fake_llm.requests[0].body
    assert sent["tools"] == [TOOL] and sent["tool_choice"] == "auto"
    assert len(rec.usages) == 1


def test_rate_limit_twice_then_success_honours_retry_after(
    fake_llm: FakeLLM, rec: Recorder
) -> None:
    fake_llm.error(429, times=2, retry_after=3).reply("finally")
    with make(fake_llm, rec) as client:
        assert client.chat(MSGS).text == "finally"
    assert rec.sleeps == [3.0, 3.0]
    assert len(fake_llm.chat_requests()) == 3
    assert len(rec.usages) == 1


def test_backoff_is_exponential_with_jitter_and_capped(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.error(503, times=8).reply("up again")
    with make(fake_llm, rec, max_retries=8) as client:
        assert client.chat(MSGS).text == "up again"
    assert len(rec.sleeps) == 8
    for attempt, slept in enumerate(rec.sleeps):
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
        assert ceiling / 2 <= slept <= ceiling
    assert rec.sleeps[-1] >= BACKOFF_CAP / 2


def test_server_error_forever_gives_up_after_max_retries(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.error(500, times=100)
    with make(fake_llm, rec, max_retries=3) as client, pytest.raises(LLMError) as info:
        client.chat(MSGS)
    assert info.value.kind == "server"
    assert info.value.status == 500
    assert fake_llm.base_url in str(info.value)
    assert len(fake_llm.chat_requests()) == 4
    assert len(rec.sleeps) == 3
    assert rec.usages == []


def test_timeout(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.delay(2.0, "too late", times=2)
    with make(fake_llm, rec, timeout=0.3, max_retries=1) as client, pytest.raises(LLMError) as info:
        client.chat(MSGS)
    assert info.value.kind == "timeout"
    assert "0.3 s" in str(info.value)
    assert len(fake_llm.chat_requests()) == 2  # timeouts are retried
    assert len(rec.sleeps) == 1


def test_unreachable_port(rec: Recorder) -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    with make(base, rec, max_retries=2) as client, pytest.raises(LLMError) as info:
        client.chat(MSGS)
    assert info.value.kind == "unreachable"
    assert base in str(info.value)
    assert len(rec.sleeps) == 2


def test_dropped_connection_is_retried(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.disconnect().reply("second try")
    with make(fake_llm, rec) as client:
        assert client.chat(MSGS).text == "second try"
    assert len(rec.sleeps) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_not_retried(fake_llm: FakeLLM, rec: Recorder, status: int) -> None:
    fake_llm.error(status, times=5)
    with make(fake_llm, rec, api_key="sk-wrong-key-123") as client, pytest.raises(LLMError) as info:
        client.chat(MSGS)
    err = info.value
    assert err.kind == "auth" and err.status == status
    assert fake_llm.base_url in str(err) and "API key is wrong" in str(err)
    assert "sk-wrong-key-123" not in str(err)
    assert len(fake_llm.chat_requests()) == 1
    assert rec.sleeps == []


def test_auth_error_without_key_says_missing(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.error(401)
    with make(fake_llm, rec) as client, pytest.raises(LLMError, match="API key is missing"):
        client.chat(MSGS)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_not_retried(fake_llm: FakeLLM, rec: Recorder, status: int) -> None:
    fake_llm.error(status, body='{"error": {"message": "context too long"}}')
    with make(fake_llm, rec) as client, pytest.raises(LLMError) as info:
        client.chat(MSGS)
    assert info.value.kind == "bad_request"
    assert "context too long" in str(info.value)
    assert len(fake_llm.chat_requests()) == 1


def test_malformed_json_is_bad_response(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.malformed()
    with make(fake_llm, rec) as client, pytest.raises(LLMError) as info:
        client.chat(MSGS)
    assert info.value.kind == "bad_response"
    assert len(fake_llm.chat_requests()) == 1
    assert rec.usages == []


def test_json_without_choices_is_bad_response(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.raw({"error": "model is loading"})
    with make(fake_llm, rec) as client, pytest.raises(LLMError, match="model is loading") as info:
        client.chat(MSGS)
    assert info.value.kind == "bad_response"


def test_stream_yields_deltas_in_order_and_reports_usage(fake_llm: FakeLLM, rec: Recorder) -> None:
    reply = "You met Ana at the cafe on Tuesday."
    fake_llm.reply(reply)
    with make(fake_llm, rec) as client:
        deltas = list(client.stream(MSGS, max_tokens=64))
    assert len(deltas) == len(reply.split(" "))
    assert "".join(deltas) == reply
    assert rec.usages == [
        Usage("fake-model", fake_llm.count_tokens(MSGS), fake_llm.count_tokens(reply))
    ]
    body = fake_llm.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_stream_retries_connecting_then_streams(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.error(502).reply("abc", chunks=3)
    with make(fake_llm, rec) as client:
        assert list(client.stream(MSGS)) == ["a", "b", "c"]
    assert len(rec.sleeps) == 1


def test_stream_malformed_event_is_bad_response(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.malformed()
    with make(fake_llm, rec) as client, pytest.raises(LLMError) as info:
        list(client.stream(MSGS))
    assert info.value.kind == "bad_response"
    assert rec.usages == []


def test_stream_stopped_early_still_reports_estimate(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.reply("one two three four five")
    with make(fake_llm, rec) as client:
        gen = client.stream(MSGS)
        assert next(gen) == "one "
        gen.close()
    assert len(rec.usages) == 1
    assert rec.usages[0].completion_tokens == 1  # estimate of "one "


def test_list_models(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.models = ["llama3.1:latest", "llava:7b"]
    with make(fake_llm, rec) as client:
        assert client.list_models() == ["llama3.1:latest", "llava:7b"]
    assert fake_llm.requests[0].method == "GET"
    assert fake_llm.requests[0].path == "/v1/models"


def test_empty_model_uses_first_listed(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.models = ["qwen2.5-vl-7b", "other"]
    fake_llm.reply("ok")
    with make(fake_llm, rec, model="") as client:
        client.chat(MSGS)
        assert client.supports_vision()
    assert fake_llm.chat_requests()[0].body["model"] == "qwen2.5-vl-7b"


def test_connection_ok_when_model_listed(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.models = ["llama3.1:latest"]
    with make(fake_llm, rec, model="llama3.1") as client:
        ok, message = client.test_connection()
    assert ok, message
    assert "llama3.1" in message
    assert fake_llm.chat_requests() == []


def test_connection_pings_when_models_endpoint_missing(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.models_status = 404
    fake_llm.reply("p")
    with make(fake_llm, rec) as client:
        ok, message = client.test_connection()
    assert ok, message
    assert fake_llm.chat_requests()[0].body["max_tokens"] == 1


def test_connection_unlisted_model_that_fails_names_available(
    fake_llm: FakeLLM, rec: Recorder
) -> None:
    fake_llm.models = ["mistral"]
    fake_llm.error(404)
    with make(fake_llm, rec, model="nope") as client:
        ok, message = client.test_connection()
    assert not ok
    assert "mistral" in message


def test_connection_fails_without_raising(rec: Recorder) -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    with make(base, rec) as client:
        ok, message = client.test_connection()
    assert not ok
    assert base in message
    assert rec.sleeps == []  # the button answers at once, no retries


def test_connection_auth_failure(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.models_status = 401
    with make(fake_llm, rec, api_key="sk-bad") as client:
        ok, message = client.test_connection()
    assert not ok and "API key" in message and "sk-bad" not in message


def test_authorization_header_carries_key(fake_llm: FakeLLM, rec: Recorder) -> None:
    fake_llm.reply("a").reply("b")
    with make(fake_llm, rec, api_key="sk-test-secret") as client:
        client.chat(MSGS)
    with make(fake_llm, rec) as keyless:
        keyless.chat(MSGS)
    first, second = fake_llm.chat_requests()
    assert first.headers["authorization"] == "Bearer sk-test-secret"
    assert second.headers["authorization"] == "Bearer not-needed"
    assert "sk-test-secret" not in fake_llm.all_request_text()


def test_key_not_in_repr() -> None:
    config = LLMConfig("http://127.0.0.1:1/v1", "m", api_key="sk-hidden-value")
    assert "sk-hidden-value" not in repr(config)
    assert "sk-hidden-value" not in repr(LLMClient(config))


def test_usage_callback_failure_does_not_lose_answer(fake_llm: FakeLLM) -> None:
    def broken(_: Usage) -> None:
        raise RuntimeError("ledger is locked")

    fake_llm.reply("kept")
    config = LLMConfig(fake_llm.base_url, "fake-model")
    with LLMClient(config, on_usage=broken) as client:
        assert client.chat(MSGS).text == "kept"


def test_handler_routes_by_request(fake_llm: FakeLLM, rec: Recorder) -> None:
    def route(body: dict) -> str | list:
        if body.get("tools"):
            return [("insert", {"summary": body["messages"][-1]["content"]})]
        return "plain"

    fake_llm.handler(route)
    with make(fake_llm, rec) as client:
        assert client.chat(MSGS).text == "plain"
        call = client.chat(MSGS, tools=[TOOL]).tool_calls[0]
    assert call.arguments == {"summary": MSGS[0]["content"]}


def test_script_exhausted_is_noticed(fake_llm: FakeLLM, rec: Recorder) -> None:
    with make(fake_llm, rec, max_retries=0) as client, pytest.raises(LLMError, match="exhausted"):
        client.chat(MSGS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "127.0.0.1:8080/v1"}, "http"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"vision": "maybe"}, "vision"),
    ],
)
def test_config_validation(kwargs: dict, match: str) -> None:
    args = {"base_url": "http://127.0.0.1:1/v1", "model": "m", **kwargs}
    with pytest.raises(ValueError, match=match):
        LLMConfig(**args)


def test_supports_vision_modes_and_patterns() -> None:
    def client(model: str, vision: str) -> LLMClient:
        return LLMClient(LLMConfig("http://127.0.0.1:1/v1", model, vision=vision))

    assert client("llama3.1", "on").supports_vision()
    assert not client("gpt-4o", "off").supports_vision()
    assert client("gpt-4o-mini", "auto").supports_vision()
    for name in (
        "gpt-4.1-mini",
        "llava:13b",
        "qwen2-vl-7b",
        "gemma3:4b",
        "llama3.2-vision:11b",
        "openai/gpt-4o",
        "Qwen/Qwen2.5-VL-7B-Instruct",
        "minicpm-v",
    ):
        assert model_supports_vision(name), name
    for name in ("llama3.1", "mistral", "gemma3:1b", "o3-mini", "qwen2.5:7b", ""):
        assert not model_supports_vision(name), name


def test_presets() -> None:
    openai_preset = get_preset("openai")
    assert openai_preset.base_url == "https://api.openai.com/v1"
    assert openai_preset.model == "gpt-4o-mini" and openai_preset.needs_key
    assert openai_preset.vision == "on"
    ollama = get_preset("Ollama")
    assert ollama.base_url == "http://127.0.0.1:11434/v1" and not ollama.needs_key
    assert get_preset("openrouter").needs_key
    assert set(PRESETS) == {
        "openai",
        "ollama",
        "lmstudio",
        "vllm",
        "llamacpp",
        "openrouter",
        "custom",
    }
    for preset in PRESETS.values():
        if preset.base_url:
            LLMConfig(preset.base_url, preset.model, vision=preset.vision)  # valid config
    with pytest.raises(ValueError, match="ollama"):
        get_preset("olama")


def test_to_data_url_downscales_to_jpeg() -> None:
    image = Image.new("RGBA", (3000, 1500), (10, 200, 30, 128))
    url = to_data_url(image)
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    decoded = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))
    assert decoded.format == "JPEG"
    assert decoded.size == (1280, 640)
    small = Image.open(
        io.BytesIO(base64.b64decode(to_data_url(Image.new("L", (40, 30)))[len(prefix) :]))
    )
    assert small.size == (40, 30)


def test_image_message_reaches_server(fake_llm: FakeLLM, rec: Recorder) -> None:
    url = to_data_url(Image.new("RGB", (64, 64), "white"), max_side=32)
    fake_llm.reply("a white square")
    msg = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]
    with make(fake_llm, rec, model="fake-vision", vision="on") as client:
        assert client.chat(msg).text == "a white square"
    sent = json.loads(fake_llm.requests[0].raw)
    assert sent["messages"][0]["content"][1]["image_url"]["url"] == url
