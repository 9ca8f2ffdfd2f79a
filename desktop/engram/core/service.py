"""The one object the UI, the CLI and the API talk to.

It owns the settings, the key, the store and (when started) the capture and memory
pipeline. Nothing outside ``engram.core`` reaches into the store directly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engram import __version__
from engram.core.agents.batch import MemoryAgent, MessageItem
from engram.core.agents.worker import BatchOutcome, MemoryWorker
from engram.core.capture.pipeline import Perceiver
from engram.core.capture.scheduler import CaptureLoop
from engram.core.config import Paths, Settings, load_settings, save_settings
from engram.core.keys import KeyManager
from engram.core.memory.embed import Embedder, make_embedder
from engram.core.memory.inbox import Inbox, unpack_text, unpack_words
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
        self.inbox = Inbox(self.store)
        self.recovered_batches = self.inbox.recover()
        self._perceiver: Perceiver | None = None
        self._worker: MemoryWorker | None = None
        self._loop: CaptureLoop | None = None
        self._llm: Any = None
        self.last_outcome: BatchOutcome | None = None

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
        """Retrieval v2; a time phrase in the query ("yesterday") filters unless since/until."""
        return hybrid_search(
            self.store,
            query,
            k=k,
            types=types,
            since=since,
            until=until,
            parse_time=since is None and until is None,
        )

    def ask(self, question: str, history: list[dict] | None = None, *, k: int = 8) -> Any:
        """An answer with citations (LLM), or an extractive one offline; see agents/chat.py."""
        return self.chat_agent(k=k).ask(question, history)

    def ask_stream(
        self, question: str, history: list[dict] | None = None, *, k: int = 8
    ) -> Iterator[tuple[str, object]]:
        """("delta", text) pieces as they arrive, then ("done", Answer)."""
        return self.chat_agent(k=k).stream(question, history)

    def chat_agent(self, *, k: int = 8) -> Any:
        from engram.core.agents.chat import ChatAgent

        return ChatAgent(self.store, self.llm_client(), k=k)

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

    def memories_today(self) -> int:
        """Current memories created since local midnight."""
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        return int(
            self.store.ledger.scalar(
                "SELECT count(*) FROM memories WHERE superseded_by IS NULL AND created_at >= ?",
                (midnight.timestamp(),),
            )
            or 0
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
            "memories_today": self.memories_today(),
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

    # -- the pipeline ----------------------------------------------------------------------
    @property
    def perceiver(self) -> Perceiver:
        if self._perceiver is None:
            self._perceiver = Perceiver(self.inbox, self.settings)
        return self._perceiver

    def llm_client(self) -> Any:
        """The configured LLM client (usage goes to the token ledger), or None offline."""
        if not self.settings.llm_configured:
            return None
        if self._llm is None:
            from engram.core.llm.client import LLMClient, LLMConfig

            s = self.settings
            self._llm = LLMClient(
                LLMConfig(
                    base_url=s.llm_base_url,
                    model=s.llm_model,
                    api_key=self.api_key(),
                    timeout=s.llm_timeout,
                    vision=s.llm_vision,
                ),
                on_usage=lambda u: self.record_usage(u.model, u.prompt_tokens, u.completion_tokens),
            )
        return self._llm

    def agent(self) -> MemoryAgent:
        from engram.core.agents.factory import make_agent

        return make_agent(self.store, self.settings, client=self.llm_client())

    @property
    def worker(self) -> MemoryWorker:
        if self._worker is None:
            self._worker = MemoryWorker(
                self.inbox,
                self.agent,
                batch_size=self.settings.batch_size,
                batch_seconds=self.settings.batch_seconds,
                on_outcome=self._on_outcome,
            )
        return self._worker

    def _on_outcome(self, out: BatchOutcome) -> None:
        self.last_outcome = out

    def ingest(self, paths: list[str]) -> dict[str, Any]:
        """Images through the live pipeline, then the memory stage; blocks until done."""
        from engram.core.capture.ingest import ingest

        before = self.store.counts()
        report = ingest(self.perceiver, paths)
        outcomes = self.worker.drain()
        after = self.store.counts()
        report.memories = {t: after[t] - before[t] for t in MEMORY_TYPES if after[t] != before[t]}
        out = report.as_dict()
        out["batches"] = len(outcomes)
        out["parked"] = [o.error for o in outcomes if o.error]
        return out

    def import_chat(self, path: str, fmt: str = "auto") -> dict[str, Any]:
        """Chat messages (redacted) into the inbox, then the memory stage; blocks."""
        from pathlib import Path as _P

        from engram.core.agents.chat_import import load_chat
        from engram.core.perceive.redact import redact_text

        loaded = load_chat(_P(path), fmt)
        now = datetime.now(UTC)
        items = [
            MessageItem(
                conversation=m.conversation,
                ref=m.ref,
                speaker=m.speaker,
                text=redact_text(m.text),
                at=m.at or now,
                session=m.session,
            )
            for m in loaded.messages
        ]
        before = self.store.counts()
        added, dupes = self.inbox.add_messages(items)
        outcomes = self.worker.drain()
        after = self.store.counts()
        return {
            "messages": len(items),
            "added": added,
            "already_known": dupes,
            "conversations": loaded.conversations,
            "problems": [p.__dict__ for p in loaded.problems],
            "memories": {t: after[t] - before[t] for t in MEMORY_TYPES if after[t] != before[t]},
            "batches": len(outcomes),
            "parked": [o.error for o in outcomes if o.error],
        }

    def start(self, capture: bool = True) -> None:
        """Start the live pipeline: capture loop (paused if capture=False) + memory worker."""
        warm = getattr(self.embedder, "warm", None)
        if warm is not None:
            try:
                warm()  # see LocalEmbedder.warm: the load's peak before capture's buffers
            except Exception:  # a broken model shows up where it is used, with its error
                log.warning("embedding model failed to load", exc_info=True)
        self._prebuild_range_index()
        if self._loop is None:
            self._loop = CaptureLoop(
                self.perceiver, self.settings, self.paths.data, on_kept=self.worker.wake
            )
        self._loop.start(paused=not capture)
        self.worker.start()

    def _prebuild_range_index(self) -> None:
        """Build search's in-memory range index off-thread when the store is large enough to
        use it (~3 s at 100k memories), so the first "last week" search does not wait."""
        from engram.core.memory import rangescan, search

        if sum(self.store.counts().values()) <= search.EXACT_SCAN_MAX:
            return

        def build() -> None:
            try:
                rangescan.prebuild(self.store)
            except Exception:  # closed meanwhile, or a read failed: search builds it later
                log.debug("range index prebuild failed", exc_info=True)

        threading.Thread(target=build, name="engram-rangescan", daemon=True).start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
        if self._worker is not None:
            self._worker.stop()

    def capture_state(self) -> str:
        return self._loop.state if self._loop is not None else "stopped"

    def pause(self, seconds: float | None = None) -> None:
        if self._loop is not None:
            self._loop.pause(seconds)

    def resume(self) -> None:
        if self._loop is not None:
            self._loop.resume()

    @property
    def paused_until(self) -> datetime | None:
        return self._loop.paused_until if self._loop is not None else None

    def prune(self) -> int:
        s = self.settings
        budget = int(s.retention_gb * 1024**3) if s.retention_gb else None
        return self.inbox.prune(retention_days=s.retention_days, budget_bytes=budget)

    # -- guarded writes waiting for the user -------------------------------------------------
    def list_pending(self) -> list[dict[str, Any]]:
        """Core/procedural writes proposed from screen or chat text, awaiting confirmation."""
        from engram.core.agents.safety import PendingStore

        return [p.public() for p in PendingStore(self.store.ledger).list_pending()]

    def confirm_pending(self, pid: str) -> list[str]:
        from engram.core.agents.safety import PendingStore

        try:
            return PendingStore(self.store.ledger).confirm(pid, self.store)
        except KeyError as exc:
            raise NotFound(str(exc.args[0])) from None

    def reject_pending(self, pid: str) -> None:
        from engram.core.agents.safety import PendingStore

        try:
            PendingStore(self.store.ledger).reject(pid)
        except KeyError as exc:
            raise NotFound(str(exc.args[0])) from None

    # -- timeline and details ---------------------------------------------------------------
    def timeline(
        self, start: datetime, end: datetime, app: str | None = None, text: str | None = None
    ) -> list[Memory]:
        """Episodic memories in [start, end) in time order, optionally by app / text."""
        out: list[Memory] = []
        offset = 0
        while True:
            page = self.store.list(
                "episodic",
                since=start,
                until=end,
                app=app,
                limit=2000,
                offset=offset,
                newest_first=False,
            )
            out.extend(page)
            if len(page) < 2000:
                break
            offset += 2000
        if text:
            needle = text.lower()
            out = [
                m
                for m in out
                if needle
                in (m.fields.get("summary", "") + " " + m.fields.get("details", "")).lower()
            ]
        return out

    def memory_app(self, mid: str) -> str | None:
        return self.get_memory(mid).app

    def related(self, mid: str, k: int = 5) -> list[Hit]:
        m = self.get_memory(mid)
        hits = self.search(m.title, k=k + 1)
        return [h for h in hits if h.memory.lineage != m.lineage][:k]

    def capture_info(self, uid: str) -> dict[str, Any] | None:
        rows = self.store.ledger.query(
            "SELECT uid, at, app, title, url, text, monitor, thumb IS NOT NULL FROM captures "
            "WHERE uid = ?",
            (uid,),
        )
        if not rows:
            return None
        r = rows[0]
        return {
            "uid": r[0],
            "at": datetime.fromtimestamp(r[1], UTC),
            "app": r[2],
            "title": r[3],
            "url": r[4],
            "text": unpack_text(r[5]),
            "monitor": r[6],
            "has_thumbnail": bool(r[7]),
        }

    def capture_words(self, uid: str) -> list[dict] | None:
        """The capture's OCR word boxes ({"t": text, "b": [left, top, width, height]})."""
        return unpack_words(
            self.store.ledger.scalar("SELECT words FROM captures WHERE uid = ?", (uid,))
        )

    def capture_thumbnail(self, uid: str) -> bytes | None:
        return self.store.ledger.scalar("SELECT thumb FROM captures WHERE uid = ?", (uid,))

    # -- settings -------------------------------------------------------------------------
    @property
    def first_run(self) -> bool:
        return not self.paths.config_file.exists()

    def key_source(self) -> str | None:
        return self.keys.source()

    def save_settings(self, settings: Settings) -> None:
        """Persist settings; capture and LLM pick them up (the loop restarts if running)."""
        save_settings(settings, self.paths)
        running = self._loop is not None and self._loop.state != "stopped"
        self.settings = settings
        self._llm = None
        self._perceiver = None
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
        if running:
            self.start()

    def api_key(self) -> str | None:
        """The LLM key: environment/settings first, then the keyring."""
        if self.settings.llm_api_key:
            return self.settings.llm_api_key
        try:
            import keyring

            return keyring.get_password("engram", "llm-api-key")
        except Exception:
            return None

    def set_api_key(self, key: str | None) -> None:
        import keyring

        if key:
            keyring.set_password("engram", "llm-api-key", key)
        else:
            with contextlib.suppress(Exception):
                keyring.delete_password("engram", "llm-api-key")
        self._llm = None

    def test_llm(self, base_url: str, model: str, api_key: str | None) -> tuple[bool, str]:
        from engram.core.llm.client import LLMClient, LLMConfig

        client = LLMClient(
            LLMConfig(base_url=base_url, model=model, api_key=api_key, timeout=10, max_retries=0)
        )
        try:
            return client.test_connection()
        finally:
            client.close()

    # -- chat history ---------------------------------------------------------------------
    def save_chat(self, chat_id: str | None, title: str, messages: list[dict]) -> str:
        import json
        import secrets

        cid = chat_id or f"chat_{secrets.token_hex(6)}"
        now = time.time()
        body = json.dumps(messages, ensure_ascii=False, default=str)
        self.store.ledger.write(
            lambda db: db.execute(
                "INSERT INTO chats VALUES (?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                "title = excluded.title, messages = excluded.messages, updated_at = excluded.updated_at",
                (cid, title[:200], body, now, now),
            )
        )
        return cid

    def list_chats(self) -> list[dict[str, Any]]:
        rows = self.store.ledger.query(
            "SELECT id, title, updated_at FROM chats ORDER BY updated_at DESC"
        )
        return [
            {"id": r[0], "title": r[1], "updated_at": datetime.fromtimestamp(r[2], UTC)}
            for r in rows
        ]

    def load_chat(self, chat_id: str) -> list[dict]:
        import json

        body = self.store.ledger.scalar("SELECT messages FROM chats WHERE id = ?", (chat_id,))
        if body is None:
            raise NotFound(chat_id)
        return json.loads(body)

    def delete_chat(self, chat_id: str) -> None:
        self.store.ledger.write(lambda db: db.execute("DELETE FROM chats WHERE id = ?", (chat_id,)))

    def close(self) -> None:
        self.stop()
        if self._llm is not None:
            with contextlib.suppress(Exception):
                self._llm.close()
        self.store.close()

    def __enter__(self) -> EngramService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
