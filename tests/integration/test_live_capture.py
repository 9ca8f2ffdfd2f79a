"""Live capture on a real Xvfb display: real windows, real grabs, real OCR, exclusions."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from engram.core.config import Settings
from engram.core.memory.inbox import unpack_text
from tests.conftest import ROOT, run_cli
from tests.xvfb import open_window, wait_for

pytestmark = pytest.mark.xvfb


def _texts(svc) -> list[tuple[str, str, str]]:
    rows = svc.store.ledger.query("SELECT app, title, text FROM captures ORDER BY seq")
    return [(a, t, unpack_text(x)) for a, t, x in rows]


def test_capture_loop_reads_windows_and_skips_excluded(svc, xvfb_display):
    svc.settings = Settings(capture_interval=0.5, idle_seconds=86400, min_free_gb=0)
    svc._perceiver = None
    with open_window(
        "notes.txt - gedit",
        "gedit",
        text="Pelican migration notes\nSurvey on Thursday",
        x=0,
        y=0,
        width=1280,
        height=800,
    ) as notes:
        notes.activate()
        svc.start(capture=True)
        try:
            wait_for(lambda: any("pelican" in t[2].lower() for t in _texts(svc)), timeout=30)
            assert svc.capture_state() == "capturing"
            with open_window(
                "Passwords.kdbx - KeePassXC",
                "keepassxc",
                text="zebrafish vault entry",
                x=0,
                y=0,
                width=1280,
                height=800,
            ) as vault:
                vault.activate()
                wait_for(lambda: svc.capture_state() == "excluded", timeout=15)
                seen_excluded = svc.counters()["captures_excluded"]
                wait_for(lambda: svc.counters()["captures_excluded"] > seen_excluded, timeout=15)
            notes.activate()  # what the window manager does when the focused window closes
            svc.pause(None)
            assert svc.capture_state() == "paused"
            n = svc.counters()["captures_seen"]
            time.sleep(1.5)
            assert svc.counters()["captures_seen"] == n  # paused: nothing grabbed
            svc.resume()
            wait_for(lambda: svc.counters()["captures_seen"] > n, timeout=15)
        finally:
            svc.stop()
    assert svc.capture_state() == "stopped"
    rows = _texts(svc)
    # None: a tick between the vault closing and gedit getting focus back (no window known)
    assert any(r[0] == "gedit" for r in rows) and all(r[0] in ("gedit", None) for r in rows)
    assert not any("zebrafish" in (r[2] or "").lower() or "kdbx" in (r[1] or "") for r in rows)
    c = svc.counters()
    assert c["captures_kept"] >= 1 and c["captures_excluded"] >= 1
    # a static screen is kept once, then only duplicates
    assert c["captures_duplicate"] >= 1
    threads = [t.name for t in __import__("threading").enumerate()]
    assert not any(n.startswith(("engram-perceive", "engram-memory")) for n in threads)


def _capture_with(svc, *, until) -> list[tuple[str, str, str]]:
    svc.settings = Settings(
        capture_interval=0.5, idle_seconds=86400, min_free_gb=0, thumbnails=True
    )
    svc._perceiver = None
    svc.start(capture=True)
    try:
        wait_for(until, timeout=30)
    finally:
        svc.stop()
    return _texts(svc)


def test_unfocused_excluded_window_beside_the_focused_one_is_blacked_out(svc, xvfb_display):
    """A password manager on screen without focus: its pixels never reach OCR or disk."""
    from PIL import Image

    with (
        open_window(
            "plan.md - gedit", "gedit", text="Heron launch plan", x=0, y=0, width=640, height=800
        ) as notes,
        open_window(
            "Passwords.kdbx - KeePassXC",
            "keepassxc",
            text="zebrafish vault entry",
            x=640,
            y=0,
            width=640,
            height=800,
            activate=False,
        ),
    ):
        notes.activate()
        rows = _capture_with(svc, until=lambda: any("heron" in r[2].lower() for r in _texts(svc)))
    assert rows and not any("zebrafish" in (r[2] or "").lower() for r in rows)
    uid = svc.store.ledger.scalar("SELECT uid FROM captures ORDER BY seq DESC LIMIT 1")
    thumb = Image.open(io.BytesIO(svc.capture_thumbnail(uid))).convert("L")
    right = thumb.crop((thumb.width // 2 + 2, 0, thumb.width, thumb.height))
    assert right.getextrema()[1] <= 16  # the vault's half is black (JPEG ringing aside)
    left = thumb.crop((0, 0, thumb.width // 2 - 2, thumb.height))
    assert left.getextrema()[1] > 200  # gedit's white page is still there


def test_excluded_window_covering_the_screen_unfocused_is_not_kept(svc, xvfb_display):
    """Mapped but not (yet) focused, filling the screen: the frame is counted, not kept."""
    with (
        open_window(
            "plan.md - gedit", "gedit", text="Heron launch plan", x=0, y=0, width=1280, height=800
        ),
        open_window(
            "Private notes - Mozilla Firefox Private Browsing",
            "firefox",
            text="zebrafish private tab",
            x=0,
            y=0,
            width=1280,
            height=800,
            activate=False,
        ),
    ):
        # gedit keeps the focus; the private window is mapped above it
        rows = _capture_with(svc, until=lambda: svc.counters()["captures_excluded"] >= 2)
    assert not any("zebrafish" in (r[2] or "").lower() for r in rows)
    assert svc.counters()["captures_kept"] == 0, (rows, svc.counters())


def test_headless_subprocess_captures_and_exits_cleanly(isolated_env, xvfb_display):
    env = dict(
        os.environ,
        ENGRAM_CAPTURE_INTERVAL="0.5",
        ENGRAM_IDLE_SECONDS="86400",
        ENGRAM_MIN_FREE_GB="0",
        PYTHON_KEYRING_BACKEND="tests.fakes.keyrings.FileKeyring",
    )
    with open_window(
        "budget.ods - LibreOffice Calc",
        "libreoffice",
        text="Marmoset budget 2027",
        x=0,
        y=0,
        width=1280,
        height=800,
    ) as w:
        w.activate()
        proc = subprocess.Popen(
            [sys.executable, "-m", "engram.cli", "run", "--headless"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def kept() -> bool:
                st = run_cli("status", "--json")
                return st.returncode == 0 and json.loads(st.stdout)["captures_kept"] >= 1

            wait_for(kept, timeout=60, interval=1.0)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "capturing" in out
    status = json.loads(run_cli("status", "--json").stdout)
    assert status["captures_seen"] >= status["captures_kept"] >= 1
