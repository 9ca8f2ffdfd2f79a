"""The inbox: the crash-safe queue of captures and chat messages awaiting the memory stage.

Every redacted capture is committed here the moment it is perceived; the memory stage
claims batches (status ``processing`` + a batch id), and marks them ``done`` in the same
breath as its last write. After a crash, batches left ``processing`` are rolled back
(their memory writes undone) and queued again, so nothing is lost and nothing doubles.
"""

from __future__ import annotations

import json
import secrets
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engram.core.agents.batch import Batch, CaptureItem, MessageItem
from engram.core.memory.store import MemoryStore, ts

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class NewCapture:
    at: datetime
    monitor: int
    app: str | None
    title: str | None
    url: str | None
    text: str
    words: list[dict] | None = None
    redactions: dict[str, int] | None = None
    thumb: bytes | None = None
    width: int | None = None
    height: int | None = None
    origin: str = "live"  # live | ingest
    uid: str | None = None  # ingest passes a stable uid so a re-run is idempotent


def _utf8(s: str | None) -> str | None:
    """Lone surrogates (undecodable bytes carried in a str) cannot be stored: replace them."""
    if s is None:
        return None
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return s


def pack_text(text: str | None) -> str | bytes | None:
    """OCR text as zlib'd UTF-8 (a BLOB): ~3x smaller. Short texts stay plain TEXT."""
    text = _utf8(text)
    if text is None or len(text) < 64:
        return text
    return zlib.compress(text.encode("utf-8"), 9)


def unpack_text(value: str | bytes | None) -> str | None:
    """A capture's text as stored by :func:`pack_text` (or plain, from before it)."""
    if value is None or isinstance(value, str):
        return value
    return zlib.decompress(value).decode("utf-8")


def pack_words(words: list[dict] | None) -> bytes | None:
    """OCR word boxes as zlib'd JSON: 5x smaller, and they are half of a capture's bytes."""
    if words is None:
        return None
    return zlib.compress(json.dumps(words, separators=(",", ":")).encode(), 6)


def unpack_words(blob: bytes | str | None) -> list[dict] | None:
    if blob is None:
        return None
    if isinstance(blob, str):  # stored before compression
        return json.loads(blob)
    return json.loads(zlib.decompress(blob))


def _bump(db: Any, name: str, n: int = 1) -> None:
    db.execute(
        "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
        (name, n, n),
    )


class Inbox:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.ledger = store.ledger

    # -- in ------------------------------------------------------------------------------
    def add_capture(self, c: NewCapture) -> tuple[str, bool]:
        """Commit one perceived capture; returns (uid, added). A known uid is not re-added."""
        uid = c.uid or f"cap_{secrets.token_hex(8)}"

        def job(db: Any) -> bool:
            cur = db.execute(
                "INSERT OR IGNORE INTO captures (uid, at, monitor, app, title, url, text, words,"
                " redactions, thumb, width, height, origin) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    uid,
                    ts(c.at),
                    c.monitor,
                    _utf8(c.app),
                    _utf8(c.title),
                    _utf8(c.url),
                    pack_text(c.text),
                    pack_words(c.words),
                    json.dumps(c.redactions) if c.redactions else None,
                    c.thumb,
                    c.width,
                    c.height,
                    c.origin,
                ),
            )
            if cur.rowcount:
                _bump(db, "captures_kept")
            return bool(cur.rowcount)

        return uid, self.ledger.write(job)

    def count(self, *names: str) -> None:
        """Add one to each named counter, in one transaction."""
        self.ledger.write(lambda db: [_bump(db, name) for name in names])

    def add_messages(self, items: list[MessageItem]) -> tuple[int, int]:
        """Queue chat messages; (conversation, ref) is unique, so re-imports add nothing."""

        def job(db: Any) -> int:
            added = 0
            for m in items:
                cur = db.execute(
                    "INSERT OR IGNORE INTO messages (conversation, ref, speaker, text, at, session)"
                    " VALUES (?,?,?,?,?,?)",
                    (m.conversation, m.ref, m.speaker, m.text, ts(m.at), m.session),
                )
                added += cur.rowcount
            return added

        added = self.ledger.write(job)
        return added, len(items) - added

    # -- out -----------------------------------------------------------------------------
    def claim(self, max_items: int, *, include_parked: bool = False) -> Batch | None:
        """Claim up to max_items queued captures, or messages, as one batch."""
        bid = f"b_{secrets.token_hex(6)}"
        statuses = ("queued", "parked") if include_parked else ("queued",)
        marks = ",".join("?" * len(statuses))

        def job(db: Any) -> Batch | None:
            caps = db.execute(
                f"SELECT seq, uid, at, monitor, app, title, url, text, thumb FROM captures "
                f"WHERE status IN ({marks}) AND attempts < ? ORDER BY seq LIMIT ?",
                (*statuses, MAX_ATTEMPTS, max_items),
            ).fetchall()
            msgs: list = []
            if not caps:
                msgs = db.execute(
                    f"SELECT seq, conversation, ref, speaker, text, at, session FROM messages "
                    f"WHERE status IN ({marks}) AND attempts < ? ORDER BY conversation, at, seq "
                    "LIMIT ?",
                    (*statuses, MAX_ATTEMPTS, max_items),
                ).fetchall()
            if not caps and not msgs:
                return None
            if caps:
                db.executemany(
                    "UPDATE captures SET status = 'processing', batch_id = ? WHERE seq = ?",
                    [(bid, r[0]) for r in caps],
                )
            if msgs:
                db.executemany(
                    "UPDATE messages SET status = 'processing', batch_id = ? WHERE seq = ?",
                    [(bid, r[0]) for r in msgs],
                )
            return Batch(
                id=bid,
                captures=[
                    CaptureItem(
                        uid=r[1],
                        at=datetime.fromtimestamp(r[2], UTC),
                        monitor=r[3],
                        app=r[4],
                        title=r[5],
                        url=r[6],
                        text=unpack_text(r[7]) or "",
                        thumb=r[8],
                    )
                    for r in caps
                ],
                messages=[
                    MessageItem(
                        conversation=r[1],
                        ref=r[2],
                        speaker=r[3],
                        text=r[4],
                        at=datetime.fromtimestamp(r[5], UTC),
                        session=r[6],
                    )
                    for r in msgs
                ],
            )

        return self.ledger.write(job)

    def complete(self, batch_id: str) -> None:
        def job(db: Any) -> None:
            for table in ("captures", "messages"):
                db.execute(
                    f"UPDATE {table} SET status = 'done', error = NULL WHERE batch_id = ?",
                    (batch_id,),
                )

        self.ledger.write(job)

    def park(self, batch_id: str, error: str) -> None:
        """The batch failed: undo its writes and park its items for a later retry."""
        self.store.rollback_batch(batch_id)

        def job(db: Any) -> None:
            for table in ("captures", "messages"):
                db.execute(
                    f"UPDATE {table} SET status = 'parked', attempts = attempts + 1, error = ?, "
                    "batch_id = NULL WHERE batch_id = ?",
                    (error[:2000], batch_id),
                )

        self.ledger.write(job)

    def recover(self) -> int:
        """After a crash: roll back batches left half-done and queue their items again."""
        bids = {
            r[0]
            for r in self.ledger.query(
                "SELECT DISTINCT batch_id FROM captures WHERE status = 'processing' UNION "
                "SELECT DISTINCT batch_id FROM messages WHERE status = 'processing'"
            )
        }
        for bid in bids:
            if bid:
                self.store.rollback_batch(bid)

        def job(db: Any) -> None:
            for table in ("captures", "messages"):
                db.execute(
                    f"UPDATE {table} SET status = 'queued', batch_id = NULL "
                    "WHERE status = 'processing'"
                )

        self.ledger.write(job)
        return len(bids)

    def requeue_parked(self) -> int:
        def job(db: Any) -> int:
            n = 0
            for table in ("captures", "messages"):
                n += db.execute(
                    f"UPDATE {table} SET status = 'queued' WHERE status = 'parked' "
                    "AND attempts < ?",
                    (MAX_ATTEMPTS,),
                ).rowcount
            return n

        return self.ledger.write(job)

    def pending(self) -> dict[str, int]:
        out = {"queued": 0, "processing": 0, "parked": 0}
        for table in ("captures", "messages"):
            for status, n in self.ledger.query(
                f"SELECT status, count(*) FROM {table} WHERE status != 'done' GROUP BY status"
            ):
                out[status] = out.get(status, 0) + n
        return out

    # -- retention -----------------------------------------------------------------------
    def prune(self, *, retention_days: int, budget_bytes: int | None) -> int:
        """Drop processed captures older than N days, then oldest first beyond the budget.

        Memories stay (their sources keep the capture uid); only the raw capture rows
        (OCR text, word boxes, thumbnails) go.
        """
        removed = 0
        if retention_days > 0:
            cutoff = time.time() - retention_days * 86400
            removed += self.ledger.write(
                lambda db: (
                    db.execute(
                        "DELETE FROM captures WHERE status = 'done' AND at < ?", (cutoff,)
                    ).rowcount
                )
            )
        if budget_bytes:
            used = self.capture_bytes()
            if used > budget_bytes:
                rows = self.ledger.query(
                    "SELECT seq, length(text) + coalesce(length(words), 0) + "
                    "coalesce(length(thumb), 0) FROM captures WHERE status = 'done' ORDER BY seq"
                )
                drop, freed = [], 0
                for seq, size in rows:
                    if used - freed <= budget_bytes:
                        break
                    drop.append((seq,))
                    freed += size or 0
                if drop:
                    self.ledger.write(
                        lambda db: db.executemany("DELETE FROM captures WHERE seq = ?", drop)
                    )
                    removed += len(drop)
        return removed

    def capture_bytes(self) -> int:
        return int(
            self.ledger.scalar(
                "SELECT coalesce(sum(length(text) + coalesce(length(words), 0) + "
                "coalesce(length(thumb), 0)), 0) FROM captures"
            )
            or 0
        )
