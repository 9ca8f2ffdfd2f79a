"""The one LLM client: any OpenAI-compatible endpoint, with our own retries and error kinds.

The openai SDK's retries are switched off (max_retries=0) so backoff is ours: the same for
chat, streaming and model listing, and testable through an injected `sleep`. Every failure
becomes an LLMError whose `kind` callers branch on (e.g. fall back to the offline path when
the endpoint is unreachable) and whose message says what to fix. The API key only travels
in the Authorization header of requests to `base_url`: it is never logged, never in a repr,
never in a message. Nothing is sent anywhere but `base_url`.
"""

from __future__ import annotations

import email.utils
import fnmatch
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
import openai

from engram.core.llm.presets import VISION_MODES

log = logging.getLogger(__name__)

T = TypeVar("T")

KINDS = ("unreachable", "timeout", "rate_limited", "server", "auth", "bad_request", "bad_response")
RETRYABLE_KINDS = frozenset({"unreachable", "timeout", "rate_limited", "server"})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0
RETRY_AFTER_CAP = 120.0  # a server asking for longer than this is treated as asking for this
NO_KEY = "not-needed"  # local servers ignore the key, the SDK insists on one
IMAGE_TOKENS = 765  # rough cost of one image part, for estimates when the server sends no usage

# Model-name patterns (lower case, provider prefix like "openai/" stripped) that take images.
VISION_PATTERNS = (
    "gpt-4o*",
    "chatgpt-4o*",
    "gpt-4.1*",
    "gpt-4-turbo*",
    "gpt-4-vision*",
    "gpt-4.5*",
    "gpt-5*",
    "o1",
    "o1-20*",
    "o3",
    "o3-20*",
    "o3-pro*",
    "o4-mini*",
    "llava*",
    "bakllava*",
    "llama3.2-vision*",
    "llama-3.2-*vision*",
    "llama4*",
    "llama-4*",
    "qwen2-vl*",
    "qwen2.5-vl*",
    "qwen2.5vl*",
    "qwen3-vl*",
    "qwen-vl*",
    "gemma3*",
    "gemma-3*",
    "minicpm-v*",
    "moondream*",
    "pixtral*",
    "mistral-small3.1*",
    "mistral-small-3.1*",
    "granite3.2-vision*",
    "internvl*",
    "phi-3-vision*",
    "phi-3.5-vision*",
    "phi-4-multimodal*",
    "claude*",
    "gemini*",
    "*-vl-*",
    "*-vl",
    "*-vl:*",
    "*vision*",
)
NOT_VISION_PATTERNS = ("gemma3:1b*", "gemma-3-1b*", "gemma3:270m*", "gemma-3-270m*")


class LLMError(Exception):
    """A failed LLM call. `kind` is one of KINDS; str(err) is a message for a person."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown LLMError kind {kind!r}; expected one of {KINDS}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to reach the model. An empty `model` means the server's first listed one."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    max_retries: int = 4
    vision: str = "auto"
    temperature: float | None = 0.2  # None: not sent (for models that only accept the default)

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"LLM base_url must start with http:// or https://: {self.base_url!r}")
        if self.timeout <= 0:
            raise ValueError(f"LLM timeout must be > 0 seconds, got {self.timeout}")
        if self.max_retries < 0:
            raise ValueError(f"LLM max_retries must be >= 0, got {self.max_retries}")
        if self.vision not in VISION_MODES:
            raise ValueError(f"LLM vision must be one of {VISION_MODES}, got {self.vision!r}")


@dataclass(frozen=True)
class Usage:
    model: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ToolCall:
    """One requested tool call. `error` is set (and `arguments` None) when the arguments were
    not a JSON object; the caller answers the model with that error instead of crashing."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str
    error: str | None = None


@dataclass(frozen=True)
class ChatResult:
    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: str | None


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """(arguments, None) for a JSON object (empty string = no arguments), else (None, error)."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        snippet = raw if len(raw) <= 200 else raw[:200] + "..."
        return None, f"arguments are not valid JSON ({exc.msg} at char {exc.pos}): {snippet}"
    if not isinstance(value, dict):
        return None, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def estimate_tokens(value: Any) -> int:
    """About 4 characters per token; image parts count IMAGE_TOKENS each."""
    images = 0

    def strip(v: Any) -> Any:
        nonlocal images
        if isinstance(v, dict):
            if v.get("type") == "image_url":
                images += 1
                return None
            return {k: strip(x) for k, x in v.items()}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    blob = value if isinstance(value, str) else json.dumps(strip(value), ensure_ascii=False)
    return math.ceil(len(blob) / 4) + images * IMAGE_TOKENS


def _retry_after(response: httpx2.Response | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After-Ms, Retry-After seconds or HTTP date)."""
    if response is None:
        return None
    headers = response.headers
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        return max(0.0, when.timestamp() - time.time())
    return None


def _server_message(exc: openai.APIStatusError) -> str:
    msg = exc.message or ""
    prefix = f"Error code: {exc.status_code} - "
    if msg.startswith(prefix):
        msg = msg[len(prefix) :]
    msg = " ".join(msg.split())
    return msg if len(msg) <= 300 else msg[:300] + "..."


def _short_model(model: str) -> str:
    return model.lower().rsplit("/", 1)[-1]


class LLMClient:
    """Chat, stream and list models on one OpenAI-compatible endpoint."""

    def __init__(
        self,
        config: LLMConfig,
        on_usage: Callable[[Usage], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._on_usage = on_usage
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._model = config.model or None
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or NO_KEY,
            timeout=config.timeout,
            max_retries=0,
        )

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.config.base_url!r}, model={self.config.model!r})"

    def close(self) -> None:
        self._client.close()

    # -- public calls ----------------------------------------------------------------------
    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        max_tokens: int | None = None,
        response_format: Any = None,
    ) -> ChatResult:
        """One completion; retried on rate limits, 5xx, timeouts and connection errors."""
        return self._chat(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            max_tokens=max_tokens,
            response_format=response_format,
            retries=self.config.max_retries,
        )

    def stream(
        self, messages: list[dict[str, Any]], *, max_tokens: int | None = None
    ) -> Iterator[str]:
        """Yield text deltas. Only connecting is retried: once text flowed, a failure raises.

        Usage goes to on_usage at the end (the server's, else an estimate; also an estimate
        when the caller stops iterating early).
        """
        kwargs = self._request(messages, max_tokens=max_tokens)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        sdk_stream = self._call(
            lambda: self._client.chat.completions.create(**kwargs), self.config.max_retries
        )
        parts: list[str] = []
        state: dict[str, Any] = {"usage": None, "model": None}
        try:
            yield from self._deltas(sdk_stream, parts, state)
        except GeneratorExit:
            self._report(self._usage(None, state["model"], messages, "".join(parts)))
            raise
        finally:
            sdk_stream.close()
        self._report(self._usage(state["usage"], state["model"], messages, "".join(parts)))

    def list_models(self) -> list[str]:
        """Model ids the server offers (GET /models)."""
        return self._list_models(self.config.max_retries)

    def test_connection(self) -> tuple[bool, str]:
        """(ok, message) for the settings dialog and `engram doctor`; never raises."""
        try:
            return self._test_connection()
        except LLMError as exc:
            return False, str(exc)
        except Exception as exc:  # the button must answer, whatever broke
            log.exception("LLM connection test failed unexpectedly")
            return False, f"Connection test failed unexpectedly: {type(exc).__name__}: {exc}"

    def supports_vision(self) -> bool:
        """Whether to send images: config "on"/"off", or for "auto" a known vision model."""
        if self.config.vision != "auto":
            return self.config.vision == "on"
        return model_supports_vision(self._model or self.config.model)

    # -- internals -------------------------------------------------------------------------
    def _test_connection(self) -> tuple[bool, str]:
        base = self.config.base_url
        models: list[str] | None
        try:
            models = self._list_models(0)
        except LLMError as exc:
            if exc.kind != "bad_request":  # 404/405: a server without /models; try a chat
                return False, str(exc)
            models = None
        wanted = self.config.model
        if models is not None and not wanted:
            if not models:
                return False, f"{base} is reachable but lists no models; set a model name."
            return True, f"Connected to {base}; using {models[0]} ({len(models)} models listed)."
        if models is not None and _listed(wanted, models):
            return True, f"Connected to {base}; model {wanted} is available."
        try:
            self._chat([{"role": "user", "content": "ping"}], max_tokens=1, retries=0)
        except LLMError as exc:
            hint = ""
            if models:
                shown = ", ".join(models[:10]) + (", ..." if len(models) > 10 else "")
                hint = f" The server lists: {shown}."
            return False, f"{exc}{hint}"
        return True, f"Connected to {base}; model {wanted} answered."

    def _model_name(self) -> str:
        if self._model is None:
            models = self._list_models(self.config.max_retries)
            if not models:
                raise LLMError(
                    "bad_request",
                    f"No model is configured and {self.config.base_url} lists none; "
                    "set the model name in the LLM settings.",
                )
            self._model = models[0]
        return self._model

    def _request(
        self, messages: list[dict[str, Any]], *, max_tokens: int | None = None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self._model_name(), "messages": messages}
        if self.config.temperature is not None:
            kwargs["temperature"] = self.config.temperature
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        return kwargs

    def _chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        max_tokens: int | None = None,
        response_format: Any = None,
        retries: int,
    ) -> ChatResult:
        kwargs = self._request(messages, max_tokens=max_tokens)
        if tools:
            kwargs["tools"] = tools
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        if response_format is not None:
            kwargs["response_format"] = response_format
        resp = self._call(lambda: self._client.chat.completions.create(**kwargs), retries)
        result = self._parse(resp, messages)
        self._report(result.usage)
        return result

    def _list_models(self, retries: int) -> list[str]:
        page = self._call(lambda: self._client.models.list(), retries)
        data = getattr(page, "data", None)
        if not isinstance(data, list):
            raise LLMError(
                "bad_response", f"{self.config.base_url}/models answered without a model list."
            )
        return [m.id for m in data if isinstance(getattr(m, "id", None), str)]

    def _call(self, fn: Callable[[], T], retries: int) -> T:
        """Run fn, retrying retryable failures with backoff; raise LLMError otherwise."""
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                err = self._translate(exc)
                if err is None:
                    raise
                if not err.retryable or attempt >= retries:
                    raise err from exc
                delay = self._backoff(attempt, err.retry_after)
                log.info(
                    "LLM call failed (%s%s); retry %d/%d in %.2f s",
                    err.kind,
                    f" {err.status}" if err.status else "",
                    attempt + 1,
                    retries,
                    delay,
                )
                self._sleep(delay)
                attempt += 1

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Retry-After when given, else exponential with jitter in [ceiling/2, ceiling]."""
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _translate(self, exc: BaseException) -> LLMError | None:
        """Map SDK / transport / parse failures to LLMError; None for anything else (a bug)."""
        base = self.config.base_url
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            return LLMError(
                "timeout",
                f"The LLM server at {base} did not answer within {self.config.timeout:g} s.",
            )
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            cause = exc.__cause__ or exc
            return LLMError(
                "unreachable",
                f"Cannot reach the LLM server at {base}: {cause or 'connection failed'}.",
            )
        if isinstance(exc, openai.APIResponseValidationError):
            return LLMError(
                "bad_response", f"The LLM server at {base} sent an invalid reply: {exc}"
            )
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, openai.APIError):  # e.g. an error event inside a stream
            return LLMError("server", f"The LLM server at {base} reported an error: {exc.message}")
        if isinstance(exc, ValueError):  # JSONDecodeError, pydantic ValidationError
            return LLMError("bad_response", f"The LLM server at {base} sent malformed data: {exc}")
        return None

    def _status_error(self, exc: openai.APIStatusError) -> LLMError:
        base, status = self.config.base_url, exc.status_code
        said = _server_message(exc)
        said = f" Server said: {said}" if said else ""
        if status in (401, 403):
            key = "is wrong" if self.config.api_key else "is missing"
            msg = f"{base} refused the request ({status}): the API key {key} or lacks access.{said}"
            return LLMError("auth", msg, status=status)
        retry_after = _retry_after(exc.response)
        if status == 429:
            msg = f"{base} is rate limiting requests (429).{said}"
            return LLMError("rate_limited", msg, status=status, retry_after=retry_after)
        if status >= 500:
            msg = f"The LLM server at {base} failed ({status}).{said}"
            return LLMError("server", msg, status=status, retry_after=retry_after)
        if status == 408:
            return LLMError("timeout", f"{base} timed out the request (408).{said}", status=status)
        if status == 404:
            msg = f"{base} has no such endpoint or model {self._model!r} (404).{said}"
            return LLMError("bad_request", msg, status=status)
        return LLMError(
            "bad_request", f"{base} rejected the request ({status}).{said}", status=status
        )

    def _parse(self, resp: Any, messages: list[dict[str, Any]]) -> ChatResult:
        base = self.config.base_url
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list) or not choices:
            error = getattr(resp, "error", None)
            detail = f": {error}" if error else ""
            raise LLMError("bad_response", f"{base} answered without any choices{detail}.")
        choice = choices[0]
        message = getattr(choice, "message", None)
        if message is None:
            raise LLMError("bad_response", f"{base} answered with a choice but no message.")
        content = getattr(message, "content", None)
        text = content if isinstance(content, str) else ""
        raw_calls = getattr(message, "tool_calls", None) or []
        if not isinstance(raw_calls, list):
            raise LLMError("bad_response", f"{base} sent tool_calls that are not a list.")
        calls = tuple(_tool_call(i, tc) for i, tc in enumerate(raw_calls))
        completion = text + "".join(c.raw_arguments for c in calls)
        usage = self._usage(
            getattr(resp, "usage", None), getattr(resp, "model", None), messages, completion
        )
        finish = getattr(choice, "finish_reason", None)
        return ChatResult(text, calls, usage, finish if isinstance(finish, str) else None)

    def _deltas(self, sdk_stream: Any, parts: list[str], state: dict[str, Any]) -> Iterator[str]:
        try:
            for chunk in sdk_stream:
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    state["usage"] = usage
                state["model"] = getattr(chunk, "model", None) or state["model"]
                for choice in getattr(chunk, "choices", None) or []:
                    delta = getattr(choice, "delta", None)
                    content = getattr(delta, "content", None)
                    if isinstance(content, str) and content:
                        parts.append(content)
                        yield content
        except Exception as exc:
            err = self._translate(exc)
            if err is None:
                raise
            raise err from exc

    def _usage(
        self, usage: Any, model: Any, messages: list[dict[str, Any]], completion: str
    ) -> Usage:
        prompt = getattr(usage, "prompt_tokens", None)
        done = getattr(usage, "completion_tokens", None)
        return Usage(
            model=model if isinstance(model, str) and model else self._model or self.config.model,
            prompt_tokens=prompt if isinstance(prompt, int) else estimate_tokens(messages),
            completion_tokens=done if isinstance(done, int) else estimate_tokens(completion),
        )

    def _report(self, usage: Usage) -> None:
        if self._on_usage is None:
            return
        try:
            self._on_usage(usage)
        except Exception:  # a broken ledger must not lose an answer already paid for
            log.exception("on_usage callback failed")


def _tool_call(index: int, tc: Any) -> ToolCall:
    fn = getattr(tc, "function", None)
    name = getattr(fn, "name", None)
    raw = getattr(fn, "arguments", None)
    if isinstance(raw, dict):  # some servers send an object instead of a JSON string
        raw = json.dumps(raw)
    raw_s = raw if isinstance(raw, str) else ""
    args, error = parse_arguments(raw_s)
    if not isinstance(name, str) or not name:
        name, args, error = "", None, error or "tool call has no function name"
    call_id = getattr(tc, "id", None)
    return ToolCall(
        id=call_id if isinstance(call_id, str) and call_id else f"call_{index}",
        name=name,
        arguments=args,
        raw_arguments=raw_s,
        error=error,
    )


def _listed(model: str, models: list[str]) -> bool:
    """Whether `model` is served; Ollama lists "llama3.1:latest" for "llama3.1"."""
    want = model.lower()
    return any(m.lower() == want or m.lower().split(":")[0] == want for m in models)


def model_supports_vision(model: str) -> bool:
    """Whether a model name is a known vision model (provider prefixes ignored)."""
    name = _short_model(model)
    if not name or any(fnmatch.fnmatchcase(name, p) for p in NOT_VISION_PATTERNS):
        return False
    return any(fnmatch.fnmatchcase(name, p) for p in VISION_PATTERNS)
