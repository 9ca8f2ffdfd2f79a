"""Renders each main view with a realistic workday to docs/screenshots/*.png (the README
shows them). Real service, real store, real offline answer; only the data is made up."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSize

from tests.ui.conftest import wait_idle
from tests.ui.workday import seed_workday

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZE = QSize(1280, 800)
DAY = date(2025, 3, 12)


def save(widget, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not write {path}"
    assert path.stat().st_size > 10_000, f"{name}.png looks empty"
    return path


@pytest.fixture
def workday(svc):
    svc.settings.thumbnails = True
    return seed_workday(svc, DAY, thumbs=True)


def test_render_main_views(svc, workday, window, runner, poller, qtbot, qapp, monkeypatch):
    poller.start()
    window.resize(SIZE)
    window.show()
    qtbot.waitExposed(window)

    window.show_page(0)
    window.chat.panel.ask("When does the invoice exporter ship?")
    wait_idle(qtbot, runner)
    window.chat.panel.ask("Who owns the rollback runbook?")
    wait_idle(qtbot, runner)
    assert window.chat.panel.bubbles[-1].chip_buttons
    save(window, "chat")

    window.show_page(1)
    window.timeline.set_day(DAY)
    wait_idle(qtbot, runner)
    window.timeline.list.setCurrentIndex(window.timeline.proxy.index(6, 0))
    wait_idle(qtbot, runner)
    qtbot.wait(100)  # lazy thumbnails
    wait_idle(qtbot, runner)
    assert window.timeline.model.rowCount() == 20
    save(window, "timeline")

    window.show_page(2)
    window.memories.show_type("semantic")
    page = window.memories.pages["semantic"]
    page.tree_mode.setChecked(True)
    wait_idle(qtbot, runner)
    target = next(m.id for m in page.memories.values() if m.fields["name"] == "invoice_export_v2")
    page.tree.setCurrentItem(page._item(target))
    wait_idle(qtbot, runner)
    save(window, "memories")

    window.memories.show_type("knowledge_vault")
    wait_idle(qtbot, runner)
    vault = window.memories.pages["knowledge_vault"]
    vault.tree.setCurrentItem(vault.tree.topLevelItem(1))
    wait_idle(qtbot, runner)
    save(window, "vault")

    window.show_page(3)
    wait_idle(qtbot, runner)
    save(window, "settings")
    window.close()
    render_dark_timeline(svc, runner, poller, qtbot, qapp, monkeypatch)


def test_render_quick_ask(svc, workday, runner, poller, qtbot):
    from engram.ui.tray import Tray

    tray = Tray(svc, runner, poller)
    tray.quick_ask()
    qtbot.waitExposed(tray.popup)
    tray.popup.panel.ask("What did Lena share about the billing migration?")
    wait_idle(qtbot, runner)
    assert tray.popup.panel.bubbles[-1].chip_buttons
    save(tray.popup, "quick-ask")
    tray.hide()


def render_dark_timeline(svc, runner, poller, qtbot, qapp, monkeypatch):
    from engram.ui import theme

    monkeypatch.setattr(theme, "is_dark", lambda: True)
    theme.apply_theme(qapp)
    try:
        from engram.ui.window import MainWindow

        dark = MainWindow(svc, runner, poller)
        poller.start()
        qtbot.addWidget(dark)
        dark.resize(SIZE)
        dark.show()
        dark.show_page(1)
        dark.timeline.set_day(DAY)
        wait_idle(qtbot, runner)
        dark.timeline.list.setCurrentIndex(dark.timeline.proxy.index(13, 0))
        wait_idle(qtbot, runner)
        qtbot.wait(100)
        wait_idle(qtbot, runner)
        save(dark, "timeline-dark")
    finally:
        monkeypatch.undo()
        theme.apply_theme(qapp)


def test_render_welcome(isolated_env, _cached_embedder, runner, qtbot, monkeypatch):
    """First run in the default data dir (~/.local/share/engram), as a new user sees it."""
    from engram.core.service import EngramService
    from engram.ui.welcome import WelcomeDialog

    monkeypatch.setenv("ENGRAM_HOME", str(Path.home() / ".local" / "share" / "engram"))
    with EngramService(embedder=_cached_embedder) as svc:
        assert svc.first_run
        dlg = WelcomeDialog(svc, runner)
        qtbot.addWidget(dlg)
        dlg.show()
        qtbot.waitExposed(dlg)
        save(dlg, "welcome")
        dlg.go(1)
        save(dlg, "welcome-model")
