"""The vector index: Chroma, one collection per memory type.

Chroma holds ids, embeddings and only non-identifying metadata (type, timestamps): no text,
no titles, no app names. It is derived data: the ledger keeps every embedding, so the
index can be dropped and rebuilt (``reconcile``) at any time. This is the one part of the
store that is not encrypted; the README says so.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engram.core.memory.models import MEMORY_TYPES

log = logging.getLogger(__name__)
PREFIX = "engram-"


@contextlib.contextmanager
def _across_processes(path: Path | None) -> Any:
    """Hold an exclusive lock on ``path/.engram-lock`` (fcntl; a no-op elsewhere).

    Chroma creates its tables and collections without a lock of its own, so the app and an
    ``engram status`` started at the same moment on a fresh data dir could both try
    ("table collections already exists").
    """
    try:
        import fcntl
    except ImportError:  # Windows: Chroma's own sqlite locking is all there is
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None:
        yield
        return
    with open(path / ".engram-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class VectorIndex:
    def __init__(self, path: Path | None = None, url: str | None = None) -> None:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        self.path = path
        self._local = not url
        if url:
            from urllib.parse import urlparse

            u = urlparse(url)
            self._client = chromadb.HttpClient(
                host=u.hostname or "127.0.0.1",
                port=u.port or 8000,
                ssl=u.scheme == "https",
                settings=settings,
            )
        else:
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)
            with _across_processes(path):
                self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        self._lock = threading.RLock()
        self._cols: dict[str, Any] = {}

    def _col(self, mtype: str) -> Any:
        col = self._cols.get(mtype)
        if col is None:
            with _across_processes(self.path if self._local else None):
                col = self._client.get_or_create_collection(
                    PREFIX + mtype.replace("_", "-"),
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine", "ef_search": 128}},
                )
            self._cols[mtype] = col
        return col

    def upsert(
        self, mtype: str, ids: Sequence[str], vectors: np.ndarray, ats: Sequence[float]
    ) -> None:
        if not ids:
            return
        metas = [{"type": mtype, "at": float(a)} for a in ats]
        with self._lock:
            col = self._col(mtype)
            for i in range(0, len(ids), 2000):
                col.upsert(
                    ids=list(ids[i : i + 2000]),
                    embeddings=np.asarray(vectors[i : i + 2000], dtype=np.float32),
                    metadatas=metas[i : i + 2000],
                )

    def delete(self, mtype: str, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            with self._lock:
                self._col(mtype).delete(ids=ids)

    def ids(self, mtype: str) -> set[str]:
        with self._lock:
            return set(self._col(mtype).get(include=[])["ids"])

    def count(self, mtype: str) -> int:
        with self._lock:
            return self._col(mtype).count()

    def query(
        self,
        vector: np.ndarray,
        types: Sequence[str],
        n: int,
        since: float | None = None,
        until: float | None = None,
    ) -> list[tuple[str, float]]:
        """Nearest ids across the given types as (id, cosine distance), closest first."""
        clauses: list[dict] = []
        if since is not None:
            clauses.append({"at": {"$gte": since}})
        if until is not None:
            clauses.append({"at": {"$lt": until}})
        where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
        out: list[tuple[str, float]] = []
        with self._lock:
            for t in types:
                # no count() first: Chroma returns fewer rows (or none) when the collection
                # is smaller, and a count is a second round trip per type per search
                res = self._col(t).query(
                    query_embeddings=np.asarray([vector], dtype=np.float32),
                    n_results=n,
                    where=where,
                    include=["distances"],
                )
                out.extend(zip(res["ids"][0], res["distances"][0], strict=True))
        out.sort(key=lambda p: p[1])
        return out[:n]

    def drop_all(self) -> None:
        with self._lock:
            for t in MEMORY_TYPES:
                with contextlib.suppress(Exception):
                    self._client.delete_collection(PREFIX + t.replace("_", "-"))
            self._cols.clear()

    def close(self) -> None:
        """Release Chroma's shared per-path system so a reopen reads the disk afresh."""
        self._cols.clear()
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                log.debug("chroma close failed", exc_info=True)
            self._client = None

    @staticmethod
    def remove_dir(path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
