"""The one object the UI, the CLI and the API talk to.

It owns the settings, the key, the store and (when started) the capture and memory
pipeline. Nothing outside ``engram.core`` reaches into the store directly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engram import __version__
from engram.core.config import Paths, Settings, load_settings
from engram.core.keys import KeyManager
from engram.core.memory.embed import Embedder, make_embedder
from engram.core.memory.ledger import Ledger
from engram.core.memory.models import MEMORY_TYPES, Memory, Source
from engram.core.memory.search import Hit, hybrid_search
from engram.core.memory.store import MemoryStore, NewMemory, NotFound
from engram.core.memory.vectors import VectorIndex

log = logging.getLogger(__name__)
COUNTERS = ("captures_seen", "captures_kept", "captures_excluded", "captures_duplicate")


def dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total


class EngramService:
    def __init__(
        self,
        paths: Paths | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.paths = paths or Paths()
        self.settings = settings or load_settings(self.paths)
        self.paths.ensure()
        self.keys = KeyManager(self.paths.keyfile)
        key = self.keys.load_or_create()
        self.embedder = embedder or make_embedder(
            self.settings.embedder,
            base_url=self.settings.llm_base_url,
            model=self.settings.embedding_model,
            api_key=self.settings.llm_api_key,
        )
        ledger = Ledger(self.paths.ledger, key)
        try:
            vectors = VectorIndex(self.paths.vectors, url=self.settings.chroma_url)
        except Exception:
            ledger.close()
            raise
        self.store = MemoryStore(ledger, vectors, self.embedder, key)
        self.reconciled = self.store.reconcile()
        if any(self.reconciled.values()):
            log.info("vector index reconciled: %s", self.reconciled)

    # -- memories ----------------------------------------------------------------------------
    def add_memory(
        self,
        mtype: str,
        fields: dict[str, Any],
        *,
        sources: list[dict] | None = None,
        trust: str = "user",
    ) -> Memory:
        srcs = sources or [{"kind": "user", "ref": f"cli:{int(time.time())}"}]
        if mtype == "core":
            return self.store.set_core_block(
                fields.get("label", ""),
                fields.get("value", ""),
                limit=fields.get("limit"),
                trust=trust,
                sources=srcs,
            )
        return self.store.add(mtype, fields, sources=srcs, trust=trust)

    def add_memories(self, items: list[NewMemory]) -> list[Memory]:
        return self.store.add_many(items)

    def edit_memory(self, mid: str, changes: dict[str, Any]) -> Memory:
        return self.store.update(
            mid,
            changes,
            trust="user",
            sources=[Source(kind="user", ref=f"edit:{int(time.time())}")],
        )

    def delete_memory(self, mid: str) -> int:
        return self.store.delete(mid)

    def get_memory(self, mid: str) -> Memory:
        m = self.store.get(mid)
        if m is None:
            raise NotFound(f"no memory {mid}")
        return m

    def history(self, mid: str) -> list[Memory]:
        return self.store.history(mid)

    def list_memories(self, mtype: str | None = None, **kw: Any) -> list[Memory]:
        return self.store.list(mtype, **kw)

    def reveal_secret(self, mid: str) -> str | None:
        return self.store.reveal_secret(mid)

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        types: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Hit]:
        return hybrid_search(self.store, query, k=k, types=types, since=since, until=until)

    def forget(self, **kw: Any) -> dict[str, int]:
        out = self.store.forget(**kw)
        self.store.compact()
        return out

    # -- counters and status ----------------------------------------------------------------
    def bump(self, name: str, n: int = 1) -> None:
        self.store.ledger.write(
            lambda db: db.execute(
                "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                "value = value + excluded.value",
                (name, n),
            )
        )

    def counters(self) -> dict[str, int]:
        got = dict(self.store.ledger.query("SELECT name, value FROM counters"))
        return {c: int(got.get(c, 0)) for c in COUNTERS}

    def tokens_today(self) -> dict[str, Any]:
        day = datetime.now(UTC).date().isoformat()
        rows = self.store.ledger.query(
            "SELECT model, prompt, completion, calls FROM token_usage WHERE day = ?", (day,)
        )
        per_model = {m: {"prompt": p, "completion": c, "calls": n} for m, p, c, n in rows}
        return {
            "prompt": sum(r[1] for r in rows),
            "completion": sum(r[2] for r in rows),
            "by_model": per_model,
        }

    def record_usage(self, model: str, prompt: int, completion: int) -> None:
        day = datetime.now(UTC).date().isoformat()
        self.store.ledger.write(
            lambda db: db.execute(
                "INSERT INTO token_usage VALUES (?,?,?,?,1) ON CONFLICT(day, model) DO UPDATE "
                "SET prompt = prompt + excluded.prompt, completion = completion + "
                "excluded.completion, calls = calls + 1",
                (day, model, prompt, completion),
            )
        )

    def queue_length(self) -> int:
        return int(
            self.store.ledger.scalar("SELECT count(*) FROM captures WHERE status = 'queued'") or 0
        ) + int(
            self.store.ledger.scalar("SELECT count(*) FROM messages WHERE status = 'queued'") or 0
        )

    def status(self) -> dict[str, Any]:
        c = self.counters()
        tokens = self.tokens_today()
        return {
            "version": __version__,
            "home": str(self.paths.data),
            "captures_seen": c["captures_seen"],
            "captures_kept": c["captures_kept"],
            "captures_excluded": c["captures_excluded"],
            "captures_duplicate": c["captures_duplicate"],
            "memories": self.store.counts(),
            "bytes_on_disk": dir_size(self.paths.data),
            "queue": self.queue_length(),
            "tokens_today": tokens["prompt"] + tokens["completion"],
            "tokens_today_by_model": tokens["by_model"],
            "llm": "configured" if self.settings.llm_configured else "offline",
            "key_source": self.keys.source(),
        }

    def export(self, include_history: bool = False) -> dict[str, Any]:
        """Every memory as JSON (vault secrets are never exported)."""
        out: dict[str, Any] = {"version": __version__, "exported_at": datetime.now(UTC).isoformat()}
        for t in MEMORY_TYPES:
            items = []
            offset = 0
            while True:
                page = self.store.list(t, limit=1000, offset=offset, newest_first=False)
                items.extend(m.public() for m in page)
                if len(page) < 1000:
                    break
                offset += 1000
            if include_history:
                for m in list(items):
                    hist = self.store.history(m["id"])
                    m["history"] = [h.public() for h in hist if h.id != m["id"]]
            out[t] = items
        return out

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> EngramService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
