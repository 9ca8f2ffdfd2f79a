"""The kill -9 harness: run `engram run --headless` / `engram ingest`, SIGKILL at a random
moment, reopen the store and check that nothing acknowledged was lost or doubled.

"Acknowledged" means a capture row that a separate reader could see in the ledger just
before the kill: once the writer committed it, it must survive. Used by
tests/reliability/test_crash.py and bench/crash_trials.py.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.frames import WORDS, write_frame

ROOT = Path(__file__).resolve().parents[2]

# A full-screen window whose content changes every `period` seconds: new text painted into
# its background pixmap, so the X server shows it without any toolkit.
PAINTER = r"""
import sys, time
from PIL import Image, ImageDraw, ImageFont
from Xlib import X, display
disp, period, words = sys.argv[1], float(sys.argv[2]), sys.argv[3].split()
d = display.Display(disp)
s = d.screen()
W, H = s.width_in_pixels, s.height_in_pixels
font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 30)
win = s.root.create_window(0, 0, W, H, 0, s.root_depth, X.InputOutput, X.CopyFromParent,
                           background_pixel=s.white_pixel)
win.set_wm_class("gedit", "Gedit")
win.set_wm_name("crash-notes.txt - gedit")
win.map()
d.sync()
print(win.id, flush=True)
n = 0
while True:
    img = Image.new("RGB", (W, H), "white")
    dr = ImageDraw.Draw(img)
    for i in range(3):
        a, b = words[(n * 3 + i) % len(words)], words[(n * 7 + i * 5) % len(words)]
        dr.text((40, 60 + 70 * i), f"Crash frame {n} line {i} {a} {b}", fill="black", font=font)
    pm = s.root.create_pixmap(W, H, s.root_depth)
    pm.put_pil_image(pm.create_gc(), 0, 0, img)
    win.change_attributes(background_pixmap=pm)
    win.clear_area(0, 0, W, H)
    d.sync()
    pm.free()
    n += 1
    time.sleep(period)
"""


class Painter:
    """The painter child; its window is made the active one (as a window manager would)."""

    def __init__(self, display: str, period: float = 0.8) -> None:
        from tests.xvfb import set_active_window

        self.proc = subprocess.Popen(
            [sys.executable, "-c", PAINTER, display, str(period), " ".join(WORDS)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.strip():
            err = self.proc.communicate(timeout=10)[1]
            raise RuntimeError(f"painter window did not open: {err[-800:]}")
        set_active_window(int(line), display)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()

    def __enter__(self) -> Painter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def data_key(engram_home: Path, home: Path) -> bytes | None:
    """The store's key from the test FileKeyring (None before the first run created it)."""
    try:
        meta = json.loads((engram_home / "key.json").read_text())
        ring = json.loads((home / ".test-keyring.json").read_text())
    except (OSError, ValueError):
        return None
    value = ring.get(f"engram\ndata-key:{meta['store_id']}")
    return base64.b64decode(value) if value else None


def visible_captures(engram_home: Path, home: Path) -> dict[str, str]:
    """Capture uid -> status, as a separate reader sees them committed right now."""
    from engram.core.memory.ledger import LedgerError, connect

    key = data_key(engram_home, home)
    path = engram_home / "ledger.db"
    if key is None or not path.exists():
        return {}
    try:
        db = connect(path, key, timeout=2.0)
    except LedgerError:
        return {}  # created but not yet keyed/migrated: nothing acknowledged yet
    try:
        return dict(db.execute("SELECT uid, status FROM captures").fetchall())
    except Exception:  # the schema is not there yet
        return {}
    finally:
        db.close()


def write_ingest_folder(folder: Path, trial: int, n: int = 5) -> None:
    t0 = datetime(2026, 3, 1, 8, tzinfo=UTC) + timedelta(hours=trial)
    for i in range(n):
        a, b = WORDS[(trial + i) % 20], WORDS[(trial * 7 + i * 3) % 20]
        write_frame(
            folder,
            f"t{trial:02d}_{i:02d}",
            [f"Ingest trial {trial} frame {i} {a} {b}", f"ticket {trial * 100 + i}"],
            app="libreoffice",
            title=f"trial-{trial}-{i}.odt - LibreOffice",
            at=(t0 + timedelta(seconds=20 * i)).isoformat(),
            size=(640, 160),
        )


@dataclass
class TrialResult:
    kind: str  # "headless" | "headless-batch" (killed while a batch is processing) | "ingest"
    kill_after: float
    acknowledged: int
    missing: list[str]
    duplicates: list[str]
    quick_check: str
    vectors_equal: bool
    recovered_batches: int
    reconciled: dict[str, int]
    captures_total: int
    episodic: int


@dataclass
class Report:
    trials: list[TrialResult] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            bool(self.trials)
            and all(
                t.quick_check == "ok" and not t.missing and not t.duplicates and t.vectors_equal
                for t in self.trials
            )
            and self.final.get("ok", False)
        )

    def summary(self) -> dict[str, Any]:
        t = self.trials
        return {
            "trials": len(t),
            "headless": sum(x.kind.startswith("headless") for x in t),
            "killed_while_batch_processing": sum(x.kind == "headless-batch" for x in t),
            "ingest": sum(x.kind == "ingest" for x in t),
            "ledger_opens": sum(x.quick_check == "ok" for x in t),
            "acknowledged_total": sum(x.acknowledged for x in t),
            "lost_acknowledged": sum(len(x.missing) for x in t),
            "duplicate_memories": sum(len(x.duplicates) for x in t),
            "index_reconciled": sum(x.vectors_equal for x in t),
            "kills_mid_batch": sum(x.recovered_batches > 0 for x in t),
            "kills_needing_index_repair": sum(any(x.reconciled.values()) for x in t),
            "captures": t[-1].captures_total if t else 0,
            "final": self.final,
        }


def check_store(embedder: Any, acknowledged: set[str]) -> dict[str, Any]:
    """Reopen the store as the next start would, and check every invariant."""
    from engram.core.memory.models import MEMORY_TYPES
    from engram.core.service import EngramService

    svc = EngramService(embedder=embedder)
    try:
        ledger = svc.store.ledger
        quick = ledger.scalar("PRAGMA quick_check")
        uids = {r[0] for r in ledger.query("SELECT uid FROM captures")}
        refs = Counter(
            r[0]
            for r in ledger.query(
                "SELECT s.ref FROM memory_sources s JOIN memories m ON m.id = s.memory_id "
                "WHERE m.type = 'episodic' AND m.superseded_by IS NULL AND s.kind = 'capture'"
            )
        )
        equal = True
        for t in MEMORY_TYPES:
            want = {
                r[0]
                for r in ledger.query(
                    "SELECT id FROM memories WHERE type = ? AND superseded_by IS NULL", (t,)
                )
            }
            if svc.store.vectors.ids(t) != want:
                equal = False
        return {
            "quick_check": quick,
            "missing": sorted(acknowledged - uids),
            "duplicates": sorted(u for u, n in refs.items() if n > 1),
            "vectors_equal": equal,
            "recovered": svc.recovered_batches,
            "reconciled": dict(svc.reconciled),
            "captures": len(uids),
            "episodic": svc.store.counts()["episodic"],
        }
    finally:
        svc.close()


def final_check(embedder: Any) -> dict[str, Any]:
    """After the last trial: the queue drains and every capture has exactly one event."""
    from engram.core.service import EngramService

    svc = EngramService(embedder=embedder)
    try:
        svc.worker.drain()
        ledger = svc.store.ledger
        queue = svc.queue_length()
        parked = svc.inbox.pending()["parked"]
        uids = {r[0] for r in ledger.query("SELECT uid FROM captures")}
        refs = Counter(
            r[0]
            for r in ledger.query(
                "SELECT s.ref FROM memory_sources s JOIN memories m ON m.id = s.memory_id "
                "WHERE m.type = 'episodic' AND m.superseded_by IS NULL AND s.kind = 'capture'"
            )
        )
        uncovered = uids - set(refs)
        dupes = [u for u, n in refs.items() if n > 1]
        return {
            "ok": queue == 0 and parked == 0 and not uncovered and not dupes,
            "queue": queue,
            "parked": parked,
            "captures": len(uids),
            "captures_without_event": len(uncovered),
            "duplicate_events": len(dupes),
        }
    finally:
        svc.close()


def run_trials(
    n: int,
    *,
    embedder: Any,
    work: Path,
    seed: int = 7,
    headless_kill: tuple[float, float] = (4.0, 12.0),
    ingest_kill: tuple[float, float] = (3.0, 9.0),
    batch_timeout: float = 40.0,
    env: dict[str, str] | None = None,
    log: Any = None,
) -> Report:
    """n kill -9 trials cycling headless (random moment), headless (inside a memory batch)
    and ingest (random moment); needs DISPLAY set."""
    import keyring.core

    from tests.fakes.keyrings import FileKeyring

    keyring.core.set_keyring(FileKeyring())  # the subprocesses' keyring, so we share the key
    rng = random.Random(seed)
    engram_home = Path(os.environ["ENGRAM_HOME"])
    home = Path(os.environ["HOME"])
    base = dict(os.environ)
    base.update(
        PYTHON_KEYRING_BACKEND="tests.fakes.keyrings.FileKeyring",
        ENGRAM_CAPTURE_INTERVAL="0.5",
        ENGRAM_BATCH_SIZE="3",
        ENGRAM_BATCH_SECONDS="1",
        ENGRAM_IDLE_SECONDS="86400",
        ENGRAM_MIN_FREE_GB="0",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    base.update(env or {})
    report = Report()
    for trial in range(n):
        kind = ("headless", "headless-batch", "ingest")[trial % 3]
        if kind == "ingest":
            folder = work / f"ingest{trial:02d}"
            write_ingest_folder(folder, trial)
            cmd = [sys.executable, "-m", "engram.cli", "ingest", str(folder), "--json"]
        else:
            cmd = [sys.executable, "-m", "engram.cli", "run", "--headless"]
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        started = time.monotonic()
        if kind == "headless-batch":  # wait for a batch in flight, then kill inside it
            end = started + batch_timeout
        else:
            end = started + rng.uniform(*(ingest_kill if kind == "ingest" else headless_kill))
        acked: set[str] = set()
        while time.monotonic() < end and proc.poll() is None:
            seen = visible_captures(engram_home, home)
            acked |= set(seen)
            if kind == "headless-batch" and "processing" in seen.values():
                time.sleep(rng.uniform(0.0, 1.5))
                break
            time.sleep(min(0.25, max(0.0, end - time.monotonic())))
        acked |= set(visible_captures(engram_home, home))
        kill_after = time.monotonic() - started
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode not in (-signal.SIGKILL, 0):
            raise RuntimeError(f"trial {trial} ({kind}) failed by itself: {err[-2000:]}")
        got = check_store(embedder, acked)
        res = TrialResult(
            kind=kind,
            kill_after=round(kill_after, 2),
            acknowledged=len(acked),
            missing=got["missing"],
            duplicates=got["duplicates"],
            quick_check=got["quick_check"],
            vectors_equal=got["vectors_equal"],
            recovered_batches=got["recovered"],
            reconciled=got["reconciled"],
            captures_total=got["captures"],
            episodic=got["episodic"],
        )
        report.trials.append(res)
        if log:
            log(res)
    report.final = final_check(embedder)
    return report
