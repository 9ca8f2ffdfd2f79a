"""The embedders: the real int8 MiniLM on the CPU, and an OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram.core.memory import embed as embed_mod
from engram.core.memory.embed import (
    MODEL_SHA256,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    asset_path,
    make_embedder,
    verify_sha256,
)

PARAPHRASE_A = "The cat sat on the mat"
PARAPHRASE_B = "A cat was sitting on a rug"
UNRELATED = "Quarterly tax filing deadline"


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder()


def _mixed_texts(n: int) -> list[str]:
    """Texts of very different token lengths, in an order that sorting must undo."""
    base = "meeting notes about the quarterly roadmap with Alice and Bob in Berlin; " * 5
    return [f"item {i}: " + base[: (i * 37) % 300] for i in range(n)]


# --- local model ------------------------------------------------------------------------------


def test_shape_dtype_and_unit_rows(local: LocalEmbedder) -> None:
    vecs = local.embed([PARAPHRASE_A, PARAPHRASE_B, UNRELATED])
    assert local.name == "minilm-l6-int8"
    assert vecs.shape == (3, local.dim) == (3, 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vecs).all()


def test_empty_list_and_empty_string(local: LocalEmbedder) -> None:
    none = local.embed([])
    assert none.shape == (0, 384) and none.dtype == np.float32
    vecs = local.embed(["", "   ", "hello"])
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vecs[0], vecs[2], atol=1e-3)


def test_single_string_is_rejected(local: LocalEmbedder) -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        local.embed("hello")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="#1 is int"):
        local.embed(["ok", 3])  # type: ignore[list-item]


def test_semantic_sanity(local: LocalEmbedder) -> None:
    a, b, c = local.embed([PARAPHRASE_A, PARAPHRASE_B, UNRELATED])
    assert float(a @ b) > float(a @ c) + 0.3
    assert float(a @ b) > float(b @ c) + 0.3


def test_order_preserved_across_length_sorting(local: LocalEmbedder) -> None:
    texts = _mixed_texts(70)
    batched = local.embed(texts)
    singles = np.stack([local.embed([t])[0] for t in texts])
    # Each row belongs to its own text: its best match among the singles is itself.
    assert (np.argmax(batched @ singles.T, axis=1) == np.arange(len(texts))).all()
    reversed_rows = local.embed(texts[::-1])[::-1]
    np.testing.assert_allclose(reversed_rows, batched, atol=1e-5)


def test_batching_equals_one_by_one(local: LocalEmbedder) -> None:
    texts = [*_mixed_texts(40), "", "x " * 400]  # also one text past the 256-token limit
    batched = local.embed(texts)
    singles = np.stack([local.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batched, singles, atol=1e-5)
    small_batches = LocalEmbedder(batch_size=3).embed(texts)
    np.testing.assert_allclose(small_batches, singles, atol=1e-5)


@given(st.lists(st.integers(1, 256), max_size=80), st.integers(1, 40))
def test_model_calls_stay_inside_the_attention_budget(lengths: list[int], most: int) -> None:
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    calls = embed_mod._batches(order, lengths, most)
    assert [i for call in calls for i in call] == order  # every text once, in order
    for call in calls:
        width = max(lengths[i] for i in call)
        assert len(call) <= most
        assert len(call) == 1 or len(call) * width * width <= embed_mod.ATTENTION_BUDGET
    # and no call could have taken the next text too (no needless extra calls)
    for a, b in zip(calls, calls[1:], strict=False):
        width = lengths[b[0]]
        assert len(a) == most or (len(a) + 1) * width * width > embed_mod.ATTENTION_BUDGET


def test_long_texts_go_two_at_a_time(local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[tuple[int, int]] = []
    real = local._run

    def spy(encodings):  # type: ignore[no-untyped-def]
        sizes.append((len(encodings), max(len(e.ids) for e in encodings)))
        return real(encodings)

    monkeypatch.setattr(local, "_run", spy)
    local.embed(["word " * 400] * 5 + ["short text"] * 40)
    assert sizes == [(32, sizes[0][1]), (8, sizes[1][1]), (2, 256), (2, 256), (1, 256)]


def test_truncation_at_256_tokens(local: LocalEmbedder) -> None:
    long_a = "alpha " * 300 + "completely different tail about volcanoes"
    long_b = "alpha " * 300
    a, b = local.embed([long_a, long_b])
    np.testing.assert_allclose(a, b, atol=1e-5)  # the tails were cut off identically


def test_concurrent_first_use_is_safe() -> None:
    emb = LocalEmbedder()
    texts = _mixed_texts(20)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(emb.embed(texts))
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 3
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=1e-6)


def test_writes_nothing_under_home_or_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(os.environ["HOME"])
    before = sorted(p for p in home.rglob("*"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    LocalEmbedder().embed(["nothing should land on disk"])
    assert sorted(p for p in home.rglob("*")) == before
    assert list(cwd.iterdir()) == []


def test_asset_path_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert asset_path("tokenizer.json").is_file()
    monkeypatch.setenv("ENGRAM_ASSETS", str(tmp_path))
    assert asset_path("tokenizer.json") == tmp_path / "tokenizer.json"
    with pytest.raises(EmbeddingError, match="tokenizer"):
        LocalEmbedder().embed(["no tokenizer here"])


# --- model integrity ---------------------------------------------------------------------------


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_sha256_mismatch_raises(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(embed_mod._default_model_path(), copy)
    _flip_byte(copy)
    with pytest.raises(EmbeddingError, match="integrity check"):
        LocalEmbedder(model_path=copy).embed(["hi"])
    # The check follows the hash it is given: the tampered file passes against its own hash,
    # and the genuine file fails against a wrong one.
    verify_sha256(copy, hashlib.sha256(copy.read_bytes()).hexdigest())
    with pytest.raises(EmbeddingError, match="expected 0000"):
        LocalEmbedder(expected_sha256="0" * 64).embed(["hi"])


def test_sha256_cache_rechecks_a_changed_file(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(embed_mod._default_model_path(), copy)
    verify_sha256(copy, MODEL_SHA256)
    verify_sha256(copy, MODEL_SHA256)  # cached: no error, no rehash needed
    _flip_byte(copy)
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    with pytest.raises(EmbeddingError, match="integrity check"):
        verify_sha256(copy, MODEL_SHA256)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="cannot be read"):
        LocalEmbedder(model_path=tmp_path / "absent.onnx").embed(["x"])


# --- OpenAI-compatible endpoint ------------------------------------------------------------------

DIM = 8


def _vector(text: str) -> list[float]:
    """Deterministic, deliberately not unit-length, so the client's normalising shows."""
    raw = hashlib.sha256(text.encode()).digest()[:DIM]
    return [(b - 127.5) / 10.0 for b in raw]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
        if self.path == "/broken/v1/embeddings":
            self._reply(500, {"error": {"message": "model crashed"}}, {"retry-after-ms": "1"})
            return
        if self.path not in ("/v1/embeddings", "/short/v1/embeddings"):
            self._reply(404, {"error": {"message": "no such route"}})
            return
        inputs = body["input"]
        if any(not s for s in inputs):
            self._reply(400, {"error": {"message": "input must not be empty"}})
            return
        if self.path.startswith("/short"):
            inputs = inputs[:-1]
        data = []
        for i, text in enumerate(inputs):
            vec = _vector(text)
            if body.get("encoding_format") == "base64":
                emb: object = base64.b64encode(np.asarray(vec, np.float32).tobytes()).decode()
            else:
                emb = vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        data.reverse()  # the client must order by index, not by position
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        self._reply(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def url(self, prefix: str = "") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{prefix}/v1"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _expected(texts: list[str]) -> np.ndarray:
    rows = np.asarray([_vector(t) for t in texts], np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_openai_embedder_batches_orders_and_normalises(server: _Server) -> None:
    emb = OpenAIEmbedder(server.url(), "test-embed", api_key="sk-local")
    texts = [f"text number {i}" for i in range(130)]
    vecs = emb.embed(texts)
    assert vecs.shape == (130, DIM) and vecs.dtype == np.float32
    np.testing.assert_allclose(vecs, _expected(texts), atol=1e-6)
    assert emb.dim == DIM and emb.name == "openai:test-embed"
    sizes = [len(r["body"]["input"]) for r in server.requests]
    assert sizes == [64, 64, 2]
    assert all(r["auth"] == "Bearer sk-local" for r in server.requests)
    assert all(r["body"]["model"] == "test-embed" for r in server.requests)


def test_openai_dim_probe_empty_inputs_and_no_key(server: _Server) -> None:
    emb = OpenAIEmbedder(server.url(), "m", api_key=None)
    assert emb.dim == DIM  # learned by one probe request
    assert len(server.requests) == 1
    assert emb.embed([]).shape == (0, DIM)
    vecs = emb.embed(["", "words"])
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    assert server.requests[-1]["body"]["input"] == [" ", "words"]
    assert server.requests[-1]["auth"] == "Bearer not-needed"


def test_openai_wrong_dim_raises(server: _Server) -> None:
    emb = OpenAIEmbedder(server.url(), "m", api_key=None, dim=384)
    with pytest.raises(EmbeddingError, match="8 wide, expected 384"):
        emb.embed(["a"])


def test_openai_http_500_raises_after_retries(server: _Server) -> None:
    url = server.url("/broken")
    emb = OpenAIEmbedder(url, "m", api_key=None, dim=DIM)
    with pytest.raises(EmbeddingError) as info:
        emb.embed(["a", "b"])
    assert url in str(info.value) and "HTTP 500" in str(info.value)
    assert "model crashed" in str(info.value)
    assert len(server.requests) == 3  # one try and two retries


def test_openai_short_reply_raises(server: _Server) -> None:
    emb = OpenAIEmbedder(server.url("/short"), "m", api_key=None)
    with pytest.raises(EmbeddingError, match="sent 3 texts, got 2 vectors"):
        emb.embed(["a", "b", "c"])


def test_openai_unreachable_raises() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emb = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "m", api_key=None, dim=DIM, timeout=2)
    with pytest.raises(EmbeddingError, match="cannot connect"):
        emb.embed(["a"])


# --- factory -------------------------------------------------------------------------------------


def test_make_embedder(server: _Server) -> None:
    assert isinstance(make_embedder(), LocalEmbedder)
    remote = make_embedder("openai", base_url=server.url(), model="m")
    assert isinstance(remote, OpenAIEmbedder)
    assert remote.embed(["x"]).shape == (1, DIM)
    with pytest.raises(ValueError, match="base_url and model"):
        make_embedder("openai", model="m")
    with pytest.raises(ValueError, match="unknown embedder kind"):
        make_embedder("word2vec")
