"""Ingest and the capture pipeline with real OCR, redaction and the encrypted ledger."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from engram.core.capture.ingest import ingest
from engram.core.capture.pipeline import Perceiver
from engram.core.config import Settings
from engram.core.memory.inbox import unpack_text
from tests.frames import write_frame

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
AWS = "AKIAIOSFODNN7EXAMPL3"
CARD = "4111 1111 1111 1111"


def _perceiver(svc, **settings) -> Perceiver:
    svc.settings = Settings(**settings)
    svc._perceiver = None
    return svc.perceiver


def test_ingest_counts_exclusions_duplicates_and_redaction(svc, tmp_path):
    d = tmp_path / "frames"
    at = lambda m: (T0 + timedelta(minutes=m)).isoformat()  # noqa: E731
    write_frame(
        d,
        "f1",
        ["Quarterly narwhal report draft", "Revenue grew in October"],
        app="libreoffice",
        title="report.odt - LibreOffice",
        at=at(0),
    )
    write_frame(
        d,
        "f2",
        ["Quarterly narwhal report draft", "Revenue grew in October"],
        app="libreoffice",
        title="report.odt - LibreOffice",
        at=at(1),
    )
    write_frame(
        d,
        "f3",
        ["Vault: zebrafish-banking-login", "master password here"],
        app="KeePassXC",
        title="Passwords.kdbx - KeePassXC",
        at=at(2),
    )
    write_frame(
        d,
        "f4",
        ["Searching for quokka holiday gifts"],
        app="firefox",
        title="Gifts — Mozilla Firefox Private Browsing",
        at=at(3),
    )
    write_frame(
        d,
        "f5",
        [f"aws_access_key_id = {AWS}", f"card {CARD} exp 12/29"],
        app="xterm",
        title="~/deploy - xterm",
        at=at(4),
    )
    report = ingest(_perceiver(svc), [d])
    assert report.frames == 5
    assert report.kept == 2
    assert report.skipped_duplicate == 1
    assert report.skipped_excluded == 2
    assert report.errors == []

    rows = [
        (a, t, unpack_text(x), r)
        for a, t, x, r in svc.store.ledger.query(
            "SELECT app, title, text, redactions FROM captures ORDER BY at"
        )
    ]
    assert [r[0] for r in rows] == ["libreoffice", "xterm"]
    assert "narwhal" in rows[0][2].lower()
    assert AWS not in rows[1][2] and "4111" not in rows[1][2]
    assert "[REDACTED:" in rows[1][2]
    assert json.loads(rows[1][3])  # kinds counted
    everything = json.dumps(svc.store.ledger.query("SELECT * FROM captures"), default=str)
    for word in ("zebrafish", "quokka", "Passwords.kdbx", "Private Browsing", AWS):
        assert word not in everything
    c = svc.counters()
    assert c == {
        "captures_seen": 5,
        "captures_kept": 2,
        "captures_excluded": 2,
        "captures_duplicate": 1,
    }

    again = ingest(_perceiver(svc), [d])  # the same files: nothing new
    assert again.kept == 0
    assert svc.store.ledger.scalar("SELECT count(*) FROM captures") == 2


def test_thumbnail_has_secret_blacked_out(svc, tmp_path):
    d = tmp_path / "frames"
    write_frame(
        d,
        "s",
        [f"token {AWS}", "nothing else here"],
        app="xterm",
        title="shell",
        at=T0.isoformat(),
        size=(700, 300),
    )
    report = ingest(_perceiver(svc, thumbnails=True), [d])
    assert report.kept == 1
    thumb = svc.store.ledger.scalar("SELECT thumb FROM captures")
    img = Image.open(io.BytesIO(thumb)).convert("L")
    assert img.width == 640
    # the key's line (y ~ 56..80 at 700 px, scaled by 640/700) now holds a black box
    row = [img.getpixel((x, 62)) for x in range(100, 400)]
    assert sum(1 for p in row if p < 40) > 150
    uid = svc.store.ledger.scalar("SELECT uid FROM captures")
    words = svc.capture_words(uid)
    assert all(AWS not in w["t"] for w in words)
    assert any(w["t"] == "[REDACTED]" for w in words)


def test_bad_inputs_are_item_errors_and_the_rest_goes_through(svc, tmp_path):
    d = tmp_path / "frames"
    write_frame(
        d,
        "good",
        ["Ordinary pelican notes for the meeting"],
        app="gedit",
        title="notes.txt",
        at=T0.isoformat(),
    )
    (d / "empty.png").write_bytes(b"")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 100)
    (d / "trunc.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    Image.new("1", (20000, 20000)).save(d / "bomb.png")
    write_frame(d, "badside", ["x"], sidecar='{"app": 5, "title": "t"}')
    write_frame(d, "badat", ["x"], sidecar='{"at": "next tuesday-ish"}')
    write_frame(d, "notjson", ["x"], sidecar="{not json")
    write_frame(d, "blank", [], app="gedit", title="empty doc", at=(T0 + timedelta(1)).isoformat())
    report = ingest(_perceiver(svc), [d, tmp_path / "missing-folder"])
    errs = {e["path"].rsplit("/", 1)[-1]: e["error"] for e in report.errors}
    assert errs["empty.png"].endswith("empty file")
    assert "not a usable image" in errs["corrupt.png"] or "corrupt" in errs["corrupt.png"]
    assert "corrupt" in errs["trunc.jpg"] or "not a usable" in errs["trunc.jpg"]
    assert "MP limit" in errs["bomb.png"]
    assert "'app' must be a string" in errs["badside.png"]
    assert "not ISO 8601" in errs["badat.png"]
    assert "not valid UTF-8 JSON" in errs["notjson.png"]
    assert errs["missing-folder"] == "no such file or folder"
    assert report.kept == 2  # the good frame and the blank one (empty OCR is fine)
    texts = [
        unpack_text(r[0]) for r in svc.store.ledger.query("SELECT text FROM captures ORDER BY at")
    ]
    assert "pelican" in texts[0].lower() and texts[1] == ""


@pytest.mark.parametrize(
    "title", ["Inbox - Google Chrome (Incognito)", "New tab - Mozilla Firefox Private Browsing"]
)
def test_private_windows_never_reach_the_ledger(svc, tmp_path, title):
    d = tmp_path / "f"
    write_frame(
        d, "p", ["secret shopping list for wombat"], app="chrome", title=title, at=T0.isoformat()
    )
    report = ingest(_perceiver(svc), [d])
    assert report.skipped_excluded == 1
    assert svc.store.ledger.scalar("SELECT count(*) FROM captures") == 0


def test_user_title_patterns_exclude(svc, tmp_path):
    d = tmp_path / "f"
    write_frame(
        d,
        "bank",
        ["Balance 12,400.00"],
        app="firefox",
        title="MyBank - Accounts",
        at=T0.isoformat(),
    )
    report = ingest(_perceiver(svc, excluded_title_patterns=["mybank"]), [d])
    assert report.skipped_excluded == 1


def test_engram_never_captures_its_own_windows(svc):
    import os

    from engram.core.capture.pipeline import Frame
    from engram.core.capture.window import WindowInfo
    from tests.frames import render

    p = _perceiver(svc)
    own = WindowInfo(app="engram", title="Engram", pid=os.getpid())
    other = WindowInfo(app="gedit", title="notes", pid=os.getpid() + 1)
    assert p.offer(Frame(render(["chat answer text"]), T0, window=own)).outcome == "excluded"
    assert p.excluded(other) is None
