"""Encryption audit: after a realistic session nothing readable is on disk, and forget
leaves no trace anywhere (search, full-text index and its shadow tables, vectors, captures,
thumbnails), checked by scanning bytes and the decrypted ledger."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram.core.config import Settings
from engram.core.memory.ledger import LedgerError, connect
from tests.frames import write_frame

T0 = datetime(2026, 4, 7, 9, 0, tzinfo=UTC)
SCREEN = ["Xylophagous", "Quillwort"]  # on screen in gedit (forgotten later)
OTHER_SCREEN = ["Zanzibarite"]  # on screen in another app (kept)
CHAT = ["Pterodactylus", "Mbombela"]
TYPED = ["Borborygmus", "Sesquipedal", "Kakistocracy"]
SECRET = "vault-Jabberwock-9931"
WORDS = SCREEN + OTHER_SCREEN + CHAT + TYPED + [SECRET]


def variants(word: str) -> set[bytes]:
    return {
        word.encode(),
        word.lower().encode(),
        word.upper().encode(),
        word.encode("utf-16-le"),
        word.lower().encode("utf-16-le"),
        word.encode("utf-16-be"),
    }


def byte_scan(roots: list[Path], words: list[str]) -> list[tuple[str, str]]:
    hits = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                p = Path(dirpath) / f
                try:
                    data = p.read_bytes()
                except OSError:
                    continue
                for w in words:
                    if any(v in data for v in variants(w)):
                        hits.append((str(p), w))
    return hits


def ledger_scan(svc, words: list[str]) -> dict[str, list[str]]:
    """Every table of the decrypted ledger (FTS shadow tables included), text and blobs."""
    db = svc.store.ledger.reader()
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found: dict[str, list[str]] = {}
    for t in tables:
        for row in db.execute(f'SELECT * FROM "{t}"'):
            for v in row:
                blob = v if isinstance(v, bytes) else str(v).encode("utf-8", "replace")
                for w in words:
                    if any(x in blob for x in variants(w)):
                        found.setdefault(w, []).append(t)
    return found


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A fresh TMPDIR for the session (scanned afterwards), apart from the inputs."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return tmp


def session(svc, inputs: Path) -> None:
    svc.settings = Settings(thumbnails=True)
    svc._perceiver = None
    frames = inputs / "frames"
    at = lambda m: (T0 + timedelta(minutes=m)).isoformat()  # noqa: E731
    write_frame(
        frames,
        "a",
        [f"Notes on {SCREEN[0]} beetles", "field log"],
        app="gedit",
        title="a.txt",
        at=at(0),
    )
    write_frame(
        frames,
        "b",
        [f"{SCREEN[1]} habitat survey", "wetland plot 7"],
        app="gedit",
        title="b.txt",
        at=at(5),
    )
    write_frame(
        frames,
        "c",
        [f"{OTHER_SCREEN[0]} mineral sample", "invoice draft"],
        app="libreoffice",
        title="minerals.ods",
        at=at(9),
        size=(700, 300),
    )
    out = svc.ingest([str(frames)])
    assert out["kept"] == 3 and not out["errors"], out
    chat = inputs / "chat.jsonl"
    chat.write_text(
        "\n".join(
            json.dumps(m)
            for m in [
                {"id": "c1", "speaker": "Ola", "text": f"I found a {CHAT[0]} fossil cast"},
                {"id": "c2", "speaker": "Ola", "text": f"We fly to {CHAT[1]} in May"},
            ]
        )
    )
    assert svc.import_chat(str(chat))["added"] == 2
    m = svc.add_memory("semantic", {"name": TYPED[0], "summary": "a word I like"})
    svc.edit_memory(m.id, {"details": f"also {TYPED[1]}"})
    svc.add_memory(
        "knowledge_vault",
        {"caption": "locker code", "secret_value": SECRET, "sensitivity": "high"},
    )
    svc.save_chat(None, f"about {TYPED[2]}", [{"role": "user", "content": f"what is {TYPED[2]}?"}])


def test_no_plaintext_on_disk_after_a_session(svc, tmp_path, private_tmp):
    session(svc, tmp_path / "input")
    ledger = svc.ledger_path = svc.paths.ledger
    found = ledger_scan(svc, WORDS)  # the words really are in the store ...
    assert set(found) >= set(SCREEN + OTHER_SCREEN + CHAT + TYPED), found
    assert SECRET not in found  # ... except the vault secret, sealed a second time
    svc.close()
    hits = byte_scan([svc.paths.data, private_tmp], WORDS)  # ... and none on disk
    assert hits == [], hits
    assert (svc.paths.vectors / "chroma.sqlite3").exists()  # the scan covered Chroma too
    assert not ledger.read_bytes().startswith(b"SQLite format 3")

    # a wrong key cannot read the ledger, and plain SQLite sees no database at all
    with pytest.raises(LedgerError, match="wrong key"):
        connect(ledger, os.urandom(32))
    plain = sqlite3.connect(ledger)
    with pytest.raises(sqlite3.DatabaseError):
        plain.execute("SELECT count(*) FROM sqlite_master").fetchone()
    plain.close()


def test_forget_app_leaves_no_trace(svc, tmp_path, private_tmp):
    session(svc, tmp_path / "input")
    assert ledger_scan(svc, SCREEN)
    assert svc.store.ledger.scalar("SELECT count(*) FROM captures WHERE thumb IS NOT NULL") == 3
    out = svc.forget(app="gedit")
    assert out["captures"] == 2 and out["memories"] >= 1, out

    for w in SCREEN:
        assert not any(w.lower() in h.public()["text"].lower() for h in svc.search(w, k=20))
        fts = svc.store.ledger.scalar(
            "SELECT count(*) FROM memory_fts WHERE memory_fts MATCH ?", (w.lower(),)
        )
        assert fts == 0
    assert ledger_scan(svc, SCREEN) == {}  # not in any table, FTS shadow tables included
    rows = svc.store.ledger.query("SELECT app, thumb IS NOT NULL FROM captures")
    assert rows == [("libreoffice", 1)]  # the other app's capture and thumbnail stay
    for t in svc.store.counts():
        want = {
            r[0]
            for r in svc.store.ledger.query(
                "SELECT id FROM memories WHERE type = ? AND superseded_by IS NULL", (t,)
            )
        }
        assert svc.store.vectors.ids(t) == want, t
    # what was not forgotten is still found
    assert any(
        OTHER_SCREEN[0].lower() in h.public()["text"].lower() for h in svc.search(OTHER_SCREEN[0])
    )
    assert any(CHAT[0].lower() in h.public()["text"].lower() for h in svc.search(CHAT[0]))
    svc.close()
    assert byte_scan([svc.paths.data, private_tmp], WORDS) == []
