"""`engram run` plumbing: without a system tray the window is the control surface, and a
store without a keyring is created and unlocked through the passphrase dialog."""

from __future__ import annotations

import os

from engram.core.config import Paths


def test_without_a_tray_the_window_is_shown_and_closing_it_quits(
    qapp, embedder, monkeypatch, qtbot
):
    from engram.core.service import EngramService
    from engram.ui import app as app_mod

    quits = []
    monkeypatch.setattr(qapp, "quit", lambda: quits.append(True))
    svc = EngramService(embedder=embedder)
    engram = app_mod.EngramApp(qapp, svc, capture=False)
    assert not engram.has_tray  # offscreen has no system tray
    assert engram.window.isVisible()
    assert svc.capture_state() == "paused"  # --no-capture starts paused
    engram.window.close()
    assert engram.closed and quits == [True]
    assert not engram.window.isVisible()


def test_passphrase_dialog_creates_then_unlocks_the_store(qapp, embedder, monkeypatch):
    from engram.ui import app as app_mod
    from engram.ui.welcome import PassphraseDialog

    monkeypatch.setenv("ENGRAM_KEY_SOURCE", "passphrase")  # as when no keyring exists
    typed = iter(["correct horse battery", "wrong passphrase!", "correct horse battery"])
    seen = []

    def fake_exec(dlg):
        seen.append((dlg.create, dlg.error.text()))
        dlg.first.setText(next(typed))
        dlg.second.setText(dlg.first.text())
        dlg._check()
        return dlg.result()

    monkeypatch.setattr(PassphraseDialog, "exec", fake_exec)
    monkeypatch.setattr("engram.core.service.make_embedder", lambda *a, **k: embedder, raising=True)
    paths = Paths()
    assert app_mod.needs_passphrase(paths) is True
    svc = app_mod.open_service(paths)
    assert svc.key_source() == "passphrase"
    svc.add_memory("semantic", {"name": "kept", "summary": "behind a passphrase"})
    svc.close()
    assert "ENGRAM_PASSPHRASE" not in os.environ

    assert app_mod.needs_passphrase(paths) is False
    svc = app_mod.open_service(paths)  # wrong once, then right
    try:
        assert [m.fields["name"] for m in svc.list_memories("semantic")] == ["kept"]
    finally:
        svc.close()
    assert seen[0] == (True, "")
    assert seen[1] == (False, "")
    assert seen[2][0] is False and "wrong passphrase" in seen[2][1]
