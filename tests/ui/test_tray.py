"""Tray: pause/resume from the menu change the capture state and the icon; quick ask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt

from tests.ui.conftest import wait_idle


def _tray(svc, runner, poller):
    from engram.ui.tray import Tray

    svc.start(capture=True)
    return Tray(svc, runner, poller)


def test_tray_pause_resume_and_quick_ask(svc, runner, poller, qtbot):
    tray = _tray(svc, runner, poller)
    assert svc.capture_state() != "paused"
    before = tray.icon.icon().cacheKey()

    tray.pause_actions[0].trigger()  # Pause for 15 minutes
    qtbot.waitUntil(lambda: tray.state == "paused", timeout=5000)
    assert svc.capture_state() == "paused"
    until = svc.paused_until
    assert until is not None
    assert timedelta(minutes=14) < until - datetime.now(UTC) <= timedelta(minutes=15)
    assert tray.icon.icon().cacheKey() != before
    assert tray.resume_action.isEnabled()
    assert "Paused until" in tray.icon.toolTip()

    tray.resume_action.trigger()
    qtbot.waitUntil(lambda: tray.state != "paused", timeout=5000)
    assert svc.capture_state() != "paused"
    assert svc.paused_until is None
    assert not tray.resume_action.isEnabled()

    tray.pause_actions[2].trigger()  # until resumed
    qtbot.waitUntil(lambda: tray.state == "paused", timeout=5000)
    assert svc.paused_until is None
    assert not any(a.isEnabled() for a in tray.pause_actions)
    wait_idle(qtbot, runner)

    # quick ask opens on screen; Esc closes it
    tray.ask_action.trigger()
    popup = tray.popup
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    screen = popup.screen().availableGeometry()
    assert screen.contains(popup.frameGeometry())
    qtbot.keyClick(popup, Qt.Key.Key_Escape)
    assert not popup.isVisible()
    tray.hide()
