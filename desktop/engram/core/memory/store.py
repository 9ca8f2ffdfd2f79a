"""The memory store: typed memories with versions over the ledger and the vector index.

Writes go ledger first (the truth, one transaction on the writer thread), then the vector
index; if the process dies between the two, ``reconcile`` at the next start repairs the
index from the embeddings kept in the ledger.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from engram.core.keys import SecretBox
from engram.core.memory.embed import Embedder
from engram.core.memory.ledger import Ledger
from engram.core.memory.models import (
    MEMORY_TYPES,
    Memory,
    MemoryValidationError,
    Source,
    new_id,
    render_text,
    validate_fields,
)
from engram.core.memory.vectors import VectorIndex

log = logging.getLogger(__name__)


RETIRED = "retired"  # superseded_by of a memory closed without a successor


class NotFound(LookupError):
    """No memory with that id."""


def ts(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def range_clauses(
    prefix: str, since: datetime | None, until: datetime | None, app: str | None
) -> tuple[list[str], list[Any]]:
    """SQL conditions for a time range [since, until) on ``at`` and an app."""
    clauses: list[str] = []
    params: list[Any] = []
    if since is not None:
        clauses.append(f"{prefix}at >= ?")
        params.append(ts(since))
    if until is not None:
        clauses.append(f"{prefix}at < ?")
        params.append(ts(until))
    if app is not None:
        clauses.append(f"{prefix}app = ?")
        params.append(app)
    return clauses, params


@dataclass
class NewMemory:
    """One memory to add: its type, fields, and where it came from."""

    type: str
    fields: dict[str, Any]
    sources: Sequence[Source | dict] = ()
    trust: str = "user"
    batch_id: str | None = None
    app: str | None = None
    at: datetime | None = None  # defaults: episodic occurred_at, else now


@dataclass
class StoreEvents:
    """Hooks fired after a committed change (any thread): ``memory_did_change(ids)``."""

    memory_did_change: list[Callable[[list[str]], None]] = field(default_factory=list)

    def fire(self, ids: list[str]) -> None:
        for fn in list(self.memory_did_change):
            try:
                fn(ids)
            except Exception:
                log.exception("memory_did_change handler failed")


_COLS = (
    "id, lineage, type, fields, secret IS NOT NULL, at, created_at, updated_at, valid_from,"
    " valid_until, superseded_by, trust, batch_id, app"
)


class MemoryStore:
    def __init__(
        self,
        ledger: Ledger,
        vectors: VectorIndex,
        embedder: Embedder,
        data_key: bytes,
    ) -> None:
        self.ledger = ledger
        self.vectors = vectors
        self.embedder = embedder
        self._box = SecretBox(data_key)
        self.events = StoreEvents()
        self._vec_lock = threading.Lock()

    # -- conversion ------------------------------------------------------------------------
    def _rows_to_memories(self, rows: Sequence[tuple]) -> list[Memory]:
        """Rows to memories with the sources of all of them read in one query per 500
        (not one per memory: a timeline day or a search page reads thousands)."""
        srcs: dict[str, list[tuple[str, str]]] = {r[0]: [] for r in rows}
        for mid, kind, ref in self.ledger.query_in(
            "SELECT memory_id, kind, ref FROM memory_sources WHERE memory_id IN ({}) "
            "ORDER BY memory_id, kind, ref",
            list(srcs),
        ):
            srcs[mid].append((kind, ref))
        return [self._row_to_memory(r, srcs[r[0]]) for r in rows]

    def _row_to_memory(self, row: tuple, srcs: Sequence[tuple[str, str]] | None = None) -> Memory:
        (
            mid,
            lineage,
            mtype,
            fields,
            has_secret,
            _at,
            created,
            updated,
            vfrom,
            vuntil,
            sup,
            trust,
            batch,
            app,
        ) = row
        if srcs is None:
            srcs = self.ledger.query(
                "SELECT kind, ref FROM memory_sources WHERE memory_id = ? ORDER BY kind, ref",
                (mid,),
            )
        return Memory(
            id=mid,
            lineage=lineage,
            type=mtype,
            fields=json.loads(fields),
            created_at=dt(created),
            updated_at=dt(updated),
            valid_from=dt(vfrom),
            valid_until=dt(vuntil),
            superseded_by=sup,
            sources=[Source(kind=k, ref=r) for k, r in srcs],
            trust=trust,
            batch_id=batch,
            has_secret=bool(has_secret),
            app=app,
        )

    # -- writing ---------------------------------------------------------------------------
    def _prepare(self, item: NewMemory) -> tuple[dict, str, str | None, float]:
        model = validate_fields(item.type, dict(item.fields))
        fields = model.model_dump(mode="json")
        secret = getattr(model, "secret_value", None)
        text = render_text(item.type, fields)
        at = ts(item.at) if item.at else None
        if at is None:
            at = ts(getattr(model, "occurred_at", None)) or time.time()
        return fields, text, secret, at

    def add(self, mtype: str, fields: dict[str, Any], **kw: Any) -> Memory:
        return self.add_many([NewMemory(type=mtype, fields=fields, **kw)])[0]

    def add_many(self, items: Sequence[NewMemory]) -> list[Memory]:
        """Validate, embed and insert; all or nothing (one transaction)."""
        prepared = [self._prepare(it) for it in items]
        for it in items:
            if it.type == "core":
                raise MemoryValidationError(
                    "core memory has one block per label: use set_core_block()"
                )
        vectors = self._embed([p[1] for p in prepared])
        now = time.time()
        ids = [new_id(it.type) for it in items]

        def job(db: Any) -> None:
            for mid, it, (fields, text, secret, at), vec in zip(
                ids, items, prepared, vectors, strict=True
            ):
                self._insert(db, mid, mid, it, fields, text, secret, at, now, vec)
                self._log(db, it.batch_id, mid, "insert", None, now)

        self.ledger.write(job)
        self._index(
            [
                (it.type, mid, vec, p[3])
                for it, mid, vec, p in zip(items, ids, vectors, prepared, strict=True)
            ]
        )
        self.events.fire(ids)
        return [self.get(i) for i in ids]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return self.embedder.embed(texts)

    def _insert(
        self,
        db: Any,
        mid: str,
        lineage: str,
        it: NewMemory,
        fields: dict,
        text: str,
        secret: str | None,
        at: float,
        now: float,
        vec: np.ndarray,
        created: float | None = None,
    ) -> None:
        sealed = self._box.seal(secret, lineage) if secret else None
        cur = db.execute(
            "INSERT INTO memories (id, lineage, type, fields, secret, text, at, created_at,"
            " updated_at, valid_from, trust, batch_id, app) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                mid,
                lineage,
                it.type,
                json.dumps(fields, ensure_ascii=False),
                sealed,
                text,
                at,
                created or now,
                now,
                now,
                it.trust,
                it.batch_id,
                it.app,
            ),
        )
        db.execute("INSERT INTO memory_fts (rowid, text) VALUES (?, ?)", (cur.lastrowid, text))
        srcs = {
            (s.kind, s.ref) if isinstance(s, Source) else (s["kind"], str(s["ref"]))
            for s in it.sources
        }
        for kind, ref in srcs:
            Source(kind=kind, ref=ref)  # validate
            db.execute("INSERT OR IGNORE INTO memory_sources VALUES (?,?,?)", (mid, kind, ref))
        db.execute(
            "INSERT OR REPLACE INTO embeddings VALUES (?,?,?,?)",
            (mid, self.embedder.name, int(vec.shape[0]), vec.astype(np.float32).tobytes()),
        )

    @staticmethod
    def _log(db: Any, batch: str | None, mid: str, op: str, prev: str | None, now: float) -> None:
        db.execute(
            "INSERT INTO write_log (batch_id, memory_id, op, prev_id, at) VALUES (?,?,?,?,?)",
            (batch, mid, op, prev, now),
        )

    def _index(self, rows: list[tuple[str, str, np.ndarray, float]]) -> None:
        by_type: dict[str, list] = {}
        for mtype, mid, vec, at in rows:
            by_type.setdefault(mtype, []).append((mid, vec, at))
        try:
            with self._vec_lock:
                for mtype, items in by_type.items():
                    self.vectors.upsert(
                        mtype,
                        [i[0] for i in items],
                        np.stack([i[1] for i in items]),
                        [i[2] for i in items],
                    )
        except Exception:
            log.exception("vector index write failed; reconcile will repair it")

    def _unindex(self, pairs: Iterable[tuple[str, str]]) -> None:
        by_type: dict[str, list[str]] = {}
        for mtype, mid in pairs:
            by_type.setdefault(mtype, []).append(mid)
        try:
            with self._vec_lock:
                for mtype, ids in by_type.items():
                    self.vectors.delete(mtype, ids)
        except Exception:
            log.exception("vector index delete failed; reconcile will repair it")

    def update(
        self,
        mid: str,
        changes: dict[str, Any],
        *,
        sources: Sequence[Source | dict] = (),
        trust: str | None = None,
        batch_id: str | None = None,
        replace: bool = False,
    ) -> Memory:
        """Write a new version (old fields + changes, or just ``changes`` with replace=True).

        The old version is closed (valid_until, superseded_by) and kept for history.
        """
        old = self.get(mid)
        if old is None:
            raise NotFound(mid)
        if not old.current:
            raise MemoryValidationError(f"{mid} is an old version; edit {old.superseded_by}")
        fields = dict(changes) if replace else {**old.fields, **changes}
        if old.has_secret and "secret_value" not in fields:
            fields["secret_value"] = self.reveal_secret(mid)
        item = NewMemory(
            type=old.type,
            fields=fields,
            sources=[*old.sources, *sources],
            trust=trust or old.trust,
            batch_id=batch_id,
        )
        prepared = self._prepare(item)
        if old.type != "episodic" and "at" not in changes:
            prepared = (*prepared[:3], ts(old.valid_from) or prepared[3])
        vec = self._embed([prepared[1]])[0]
        new = new_id(old.type)
        now = time.time()
        app = self.ledger.scalar("SELECT app FROM memories WHERE id = ?", (mid,))
        item.app = app

        def job(db: Any) -> None:
            row = db.execute(
                "SELECT seq, superseded_by FROM memories WHERE id = ?", (mid,)
            ).fetchone()
            if row is None or row[1] is not None:
                raise MemoryValidationError(f"{mid} changed while editing; try again")
            fields_, text, secret, at = prepared
            self._insert(
                db,
                new,
                old.lineage,
                item,
                fields_,
                text,
                secret,
                at,
                now,
                vec,
                created=ts(old.created_at),
            )
            db.execute(
                "UPDATE memories SET valid_until = ?, superseded_by = ? WHERE id = ?",
                (now, new, mid),
            )
            db.execute("DELETE FROM memory_fts WHERE rowid = ?", (row[0],))
            db.execute("DELETE FROM embeddings WHERE memory_id = ?", (mid,))
            self._log(db, batch_id, new, "update", mid, now)

        self.ledger.write(job)
        self._unindex([(old.type, mid)])
        self._index([(old.type, new, vec, prepared[3])])
        self.events.fire([mid, new])
        return self.get(new)

    def retire(self, mid: str, *, batch_id: str | None = None) -> None:
        """Close a memory without a successor: out of search, kept in history.

        Logged as an "update" whose new version never existed, so ``rollback_batch``
        reopens it like any other update.
        """
        now = time.time()

        def job(db: Any) -> str:
            row = db.execute(
                "SELECT seq, type, superseded_by FROM memories WHERE id = ?", (mid,)
            ).fetchone()
            if row is None:
                raise NotFound(mid)
            if row[2] is not None:
                raise MemoryValidationError(f"{mid} is not the current version")
            db.execute(
                "UPDATE memories SET valid_until = ?, superseded_by = ? WHERE id = ?",
                (now, RETIRED, mid),
            )
            db.execute("DELETE FROM memory_fts WHERE rowid = ?", (row[0],))
            db.execute("DELETE FROM embeddings WHERE memory_id = ?", (mid,))
            self._log(db, batch_id, f"{mid}~{RETIRED}", "update", mid, now)
            return row[1]

        mtype = self.ledger.write(job)
        self._unindex([(mtype, mid)])
        self.events.fire([mid])

    def set_core_block(
        self,
        label: str,
        value: str,
        *,
        limit: int | None = None,
        trust: str = "user",
        sources: Sequence[Source | dict] = (),
        batch_id: str | None = None,
    ) -> Memory:
        """Create or rewrite a core block (persona / human); the limit is enforced."""
        cur = self.core_block(label)
        fields: dict[str, Any] = {"label": label, "value": value}
        if limit is not None:
            fields["limit"] = limit
        elif cur is not None:
            fields["limit"] = cur.fields.get("limit")
        if cur is None:
            validate_fields("core", fields)
            item = NewMemory(
                type="core", fields=fields, sources=sources, trust=trust, batch_id=batch_id
            )
            prepared = self._prepare(item)
            vec = self._embed([prepared[1]])[0]
            mid = new_id("core")
            now = time.time()

            def job(db: Any) -> None:
                exists = db.execute(
                    "SELECT 1 FROM memories WHERE type='core' AND superseded_by IS NULL AND "
                    "json_extract(fields, '$.label') = ?",
                    (label,),
                ).fetchone()
                if exists:
                    raise MemoryValidationError(f"core block {label!r} was created meanwhile")
                self._insert(db, mid, mid, item, *prepared[:2], None, prepared[3], now, vec)
                self._log(db, batch_id, mid, "insert", None, now)

            self.ledger.write(job)
            self._index([("core", mid, vec, prepared[3])])
            self.events.fire([mid])
            return self.get(mid)
        return self.update(cur.id, fields, sources=sources, trust=trust, batch_id=batch_id)

    def core_block(self, label: str) -> Memory | None:
        rows = self.ledger.query(
            f"SELECT {_COLS} FROM memories WHERE type='core' AND superseded_by IS NULL "
            "AND json_extract(fields, '$.label') = ?",
            (label,),
        )
        return self._row_to_memory(rows[0]) if rows else None

    def delete(self, mid: str) -> int:
        """Delete a memory and all its versions: rows, sources, FTS, embeddings, vectors."""
        lineage = self.ledger.scalar("SELECT lineage FROM memories WHERE id = ?", (mid,))
        if lineage is None:
            raise NotFound(mid)
        return self.delete_lineages([lineage])

    def delete_lineages(self, lineages: Sequence[str]) -> int:
        if not lineages:
            return 0

        def job(db: Any) -> list[tuple[str, str]]:
            gone: list[tuple[str, str]] = []
            for lin in lineages:
                rows = db.execute(
                    "SELECT seq, id, type FROM memories WHERE lineage = ?", (lin,)
                ).fetchall()
                for seq, mid, mtype in rows:
                    db.execute("DELETE FROM memory_fts WHERE rowid = ?", (seq,))
                    db.execute("DELETE FROM memory_sources WHERE memory_id = ?", (mid,))
                    db.execute("DELETE FROM embeddings WHERE memory_id = ?", (mid,))
                    db.execute("DELETE FROM write_log WHERE memory_id = ?", (mid,))
                    gone.append((mtype, mid))
                db.execute("DELETE FROM memories WHERE lineage = ?", (lin,))
            return gone

        gone = self.ledger.write(job)
        self._unindex(gone)
        if gone:
            self.events.fire([g[1] for g in gone])
        return len(gone)

    def rollback_batch(self, batch_id: str) -> dict[str, int]:
        """Undo every write a batch made, newest first: inserts are deleted, updated
        memories get their previous version back. Used for a batch that died half-way and
        for ``engram rollback BATCH`` when a batch was bad."""
        log_rows = self.ledger.query(
            "SELECT seq, memory_id, op, prev_id FROM write_log WHERE batch_id = ? "
            "ORDER BY seq DESC",
            (batch_id,),
        )
        removed: list[tuple[str, str]] = []
        restored: list[str] = []
        for _seq, mid, op, prev in log_rows:
            row = self.ledger.query("SELECT seq, type FROM memories WHERE id = ?", (mid,))
            if row:
                mseq, mtype = row[0]

                def drop(db: Any, mid: str = mid, mseq: int = mseq) -> None:
                    db.execute("DELETE FROM memory_fts WHERE rowid = ?", (mseq,))
                    db.execute("DELETE FROM memory_sources WHERE memory_id = ?", (mid,))
                    db.execute("DELETE FROM embeddings WHERE memory_id = ?", (mid,))
                    db.execute("DELETE FROM memories WHERE id = ?", (mid,))

                self.ledger.write(drop)
                removed.append((mtype, mid))
            if op == "update" and prev:
                prow = self.ledger.query(
                    "SELECT seq, type, text, at FROM memories WHERE id = ?", (prev,)
                )
                if prow:
                    pseq, ptype, ptext, pat = prow[0]
                    vec = self._embed([ptext])[0]

                    def reopen(
                        db: Any,
                        prev: str = prev,
                        pseq: int = pseq,
                        ptext: str = ptext,
                        vec: np.ndarray = vec,
                    ) -> None:
                        db.execute(
                            "UPDATE memories SET superseded_by = NULL, valid_until = NULL "
                            "WHERE id = ?",
                            (prev,),
                        )
                        db.execute(
                            "INSERT INTO memory_fts (rowid, text) VALUES (?, ?)", (pseq, ptext)
                        )
                        db.execute(
                            "INSERT OR REPLACE INTO embeddings VALUES (?,?,?,?)",
                            (
                                prev,
                                self.embedder.name,
                                int(vec.shape[0]),
                                vec.astype(np.float32).tobytes(),
                            ),
                        )

                    self.ledger.write(reopen)
                    self._index([(ptype, prev, vec, pat)])
                    restored.append(prev)
        self.ledger.write(
            lambda db: db.execute("DELETE FROM write_log WHERE batch_id = ?", (batch_id,))
        )
        self._unindex(removed)
        if removed or restored:
            self.events.fire([m for _t, m in removed] + restored)
        return {"removed": len(removed), "restored": len(restored)}

    # -- reading ---------------------------------------------------------------------------
    def get(self, mid: str) -> Memory | None:
        rows = self.ledger.query(f"SELECT {_COLS} FROM memories WHERE id = ?", (mid,))
        return self._row_to_memory(rows[0]) if rows else None

    def get_many(self, ids: Sequence[str]) -> dict[str, Memory]:
        rows = self.ledger.query_in(f"SELECT {_COLS} FROM memories WHERE id IN ({{}})", ids)
        return {m.id: m for m in self._rows_to_memories(rows)}

    def latest(self, mid: str) -> Memory | None:
        """Follow superseded_by to the current version."""
        m = self.get(mid)
        while m is not None and m.superseded_by:
            m = self.get(m.superseded_by)
        return m

    def history(self, mid: str) -> list[Memory]:
        lineage = self.ledger.scalar("SELECT lineage FROM memories WHERE id = ?", (mid,))
        if lineage is None:
            raise NotFound(mid)
        rows = self.ledger.query(
            f"SELECT {_COLS} FROM memories WHERE lineage = ? ORDER BY seq", (lineage,)
        )
        return [self._row_to_memory(r) for r in rows]

    def list(
        self,
        mtype: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        app: str | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[Memory]:
        where, params = self._filters(mtype and [mtype], since, until, app)
        order = "DESC" if newest_first else "ASC"
        rows = self.ledger.query(
            f"SELECT {_COLS} FROM memories m WHERE {where} ORDER BY at {order}, seq {order} "
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return self._rows_to_memories(rows)

    @staticmethod
    def _filters(
        types: Sequence[str] | None,
        since: datetime | None,
        until: datetime | None,
        app: str | None = None,
    ) -> tuple[str, list]:
        clauses = ["m.superseded_by IS NULL"]
        params: list[Any] = []
        if types:
            bad = set(types) - set(MEMORY_TYPES)
            if bad:
                raise MemoryValidationError(f"unknown memory type(s): {', '.join(sorted(bad))}")
            clauses.append(f"m.type IN ({','.join('?' * len(types))})")
            params.extend(types)
        more, more_params = range_clauses("m.", since, until, app)
        return " AND ".join(clauses + more), params + more_params

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(MEMORY_TYPES, 0)
        for mtype, n in self.ledger.query(
            "SELECT type, count(*) FROM memories WHERE superseded_by IS NULL GROUP BY type"
        ):
            out[mtype] = n
        return out

    def reveal_secret(self, mid: str) -> str | None:
        """The Knowledge Vault secret of a memory; callers must have asked the user."""
        row = self.ledger.query("SELECT lineage, secret FROM memories WHERE id = ?", (mid,))
        if not row:
            raise NotFound(mid)
        lineage, blob = row[0]
        return self._box.open(blob, lineage) if blob else None

    # -- maintenance -----------------------------------------------------------------------
    def reconcile(self) -> dict[str, int]:
        """Make the vector index match the ledger's current memories.

        Missing vectors are re-added from stored embeddings (re-embedded when the model
        changed or none is stored); vectors of deleted or old versions are removed.
        """
        added = removed = reembedded = 0
        # ids and models only, joined here: reading every text and vector, or joining the
        # two tables in SQL (a random b-tree lookup per memory), cost seconds per 10k at
        # every start; the heavy columns are read only for what is missing
        embedded = dict(self.ledger.query("SELECT memory_id, model FROM embeddings"))
        for mtype in MEMORY_TYPES:
            models = {
                r[0]: embedded.get(r[0])
                for r in self.ledger.query(
                    "SELECT id FROM memories WHERE type = ? AND superseded_by IS NULL", (mtype,)
                )
            }
            try:
                have = self.vectors.ids(mtype)
            except Exception:
                log.exception("vector index unreadable; rebuilding it")
                have = set()
            extra = have - set(models)
            if extra:
                self._unindex([(mtype, i) for i in extra])
                removed += len(extra)
            stale = self.ledger.query_in(
                "SELECT id, at, text FROM memories WHERE id IN ({})",
                [i for i, model in models.items() if model != self.embedder.name],
            )
            if stale:
                vecs = self._embed([r[2] for r in stale])
                self.ledger.write(
                    lambda db, stale=stale, vecs=vecs: [
                        db.execute(
                            "INSERT OR REPLACE INTO embeddings VALUES (?,?,?,?)",
                            (
                                r[0],
                                self.embedder.name,
                                int(v.shape[0]),
                                v.astype(np.float32).tobytes(),
                            ),
                        )
                        for r, v in zip(stale, vecs, strict=True)
                    ]
                )
                self._index([(mtype, r[0], v, r[1]) for r, v in zip(stale, vecs, strict=True)])
                reembedded += len(stale)
                have |= {r[0] for r in stale}
            missing = self.ledger.query_in(
                "SELECT m.id, m.at, e.vector FROM memories m JOIN embeddings e ON "
                "e.memory_id = m.id WHERE m.id IN ({})",
                list(set(models) - have),
            )
            if missing:
                self._index(
                    [(mtype, r[0], np.frombuffer(r[2], dtype=np.float32), r[1]) for r in missing]
                )
                added += len(missing)
        return {"added": added, "removed": removed, "reembedded": reembedded}

    def stored_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self.ledger.query_in(
            "SELECT memory_id, vector FROM embeddings WHERE memory_id IN ({})", ids
        )
        return {mid: np.frombuffer(blob, dtype=np.float32) for mid, blob in rows}

    def forget(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        app: str | None = None,
    ) -> dict[str, int]:
        """Delete memories, captures and messages in a time range and/or of an app."""
        if since is None and until is None and app is None:
            raise ValueError("forget needs --since, --until or --app")
        where, params = self._filters(None, since, until, app)
        where = where.replace("m.superseded_by IS NULL AND ", "").replace(
            "m.superseded_by IS NULL", "1"
        )
        lineages = [
            r[0]
            for r in self.ledger.query(
                f"SELECT DISTINCT lineage FROM memories m WHERE {where}", params
            )
        ]
        # memories whose sources are captures being forgotten go too
        cap_where, cap_params = range_clauses("", since, until, app)
        cap_where.insert(0, "1")
        cw = " AND ".join(cap_where)
        lineages += [
            r[0]
            for r in self.ledger.query(
                "SELECT DISTINCT m.lineage FROM memories m JOIN memory_sources s ON s.memory_id = m.id "
                f"WHERE s.kind = 'capture' AND s.ref IN (SELECT uid FROM captures WHERE {cw})",
                cap_params,
            )
        ]
        removed = self.delete_lineages(sorted(set(lineages)))

        def job(db: Any) -> tuple[int, int]:
            c = db.execute(f"DELETE FROM captures WHERE {cw}", cap_params).rowcount
            mw = [w for w in cap_where if not w.startswith("app")]
            mp = cap_params[: len(mw) - 1]
            msgs = 0
            if app is None:
                msgs = db.execute(f"DELETE FROM messages WHERE {' AND '.join(mw)}", mp).rowcount
            return c, msgs

        captures, messages = self.ledger.write(job)
        return {"memories": removed, "captures": captures, "messages": messages}

    def compact(self) -> None:
        """Checkpoint the WAL and rewrite the ledger so forgotten pages do not linger."""
        # FTS5 keeps a deleted row's terms in its segments until they are merged
        self.ledger.write(
            lambda db: db.execute("INSERT INTO memory_fts (memory_fts) VALUES ('optimize')")
        )
        self.ledger.maintain("PRAGMA wal_checkpoint(TRUNCATE)")
        self.ledger.maintain("VACUUM")

    def close(self) -> None:
        self.ledger.close()
        self.vectors.close()
