"""The tray icon: capture state in the icon, pause/resume, quick ask, open, quit.

Quick ask is a small frameless chat anchored near the tray (bottom-right of the screen
when the platform does not say where the tray is); Esc closes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
)

from engram.ui.chat import ChatPanel
from engram.ui.ops import Runner
from engram.ui.status import StatusPoller, state_text
from engram.ui.theme import app_icon, tray_icon

PAUSES = (
    ("Pause for 15 minutes", 15 * 60),
    ("Pause for 1 hour", 3600),
    ("Pause until resumed", None),
)


class QuickAsk(QFrame):
    """A compact chat popup; `open_main` asks for the main window."""

    open_main = Signal()

    def __init__(self, svc: Any, runner: Runner) -> None:
        super().__init__(
            None,
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint,
        )
        self.setObjectName("Card")
        self.setWindowTitle("Engram quick ask")
        self.resize(440, 540)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(1, 10, 1, 1)
        head = QHBoxLayout()
        head.setContentsMargins(14, 0, 10, 0)
        title = QLabel("<b>Quick ask</b>")
        head.addWidget(title)
        head.addStretch(1)
        more = QPushButton("Open Engram")
        more.setFlat(True)
        more.clicked.connect(self.open_main.emit)
        head.addWidget(more)
        lay.addLayout(head)
        self.panel = ChatPanel(svc, runner, compact=True)
        lay.addWidget(self.panel, 1)

    def popup(self, anchor: QRect | None = None) -> None:
        screen = QGuiApplication.primaryScreen().availableGeometry()
        if anchor is not None and anchor.isValid() and not anchor.isEmpty():
            x = min(
                max(anchor.center().x() - self.width() // 2, screen.left() + 8),
                screen.right() - self.width() - 8,
            )
            above = anchor.top() - self.height() - 8
            y = above if above >= screen.top() else anchor.bottom() + 8
        else:
            x = screen.right() - self.width() - 16
            y = screen.bottom() - self.height() - 16
        self.move(QPoint(x, y))
        self.show()
        self.raise_()
        self.activateWindow()
        self.panel.input.setFocus()

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() == Qt.Key.Key_Escape:
            self.hide()
        else:
            super().keyPressEvent(e)


class Tray(QObject):
    """Owns the QSystemTrayIcon and its menu; reflects the poller's capture state."""

    open_main = Signal()
    quit_requested = Signal()

    def __init__(self, svc: Any, runner: Runner, poller: StatusPoller) -> None:
        super().__init__()
        self.svc = svc
        self.runner = runner
        self.state = "stopped"
        self.icon = QSystemTrayIcon(tray_icon("paused"))
        self.icon.setToolTip("Engram")
        self.menu = QMenu()
        self.state_action = QAction(app_icon(), "Engram", self.menu)
        self.state_action.setEnabled(False)
        self.menu.addAction(self.state_action)
        self.menu.addSeparator()
        self.pause_actions: list[QAction] = []
        for label, seconds in PAUSES:
            act = QAction(label, self.menu)
            act.triggered.connect(lambda _=False, s=seconds: self.pause(s))
            self.menu.addAction(act)
            self.pause_actions.append(act)
        self.resume_action = QAction("Resume capture", self.menu)
        self.resume_action.triggered.connect(self.resume)
        self.menu.addAction(self.resume_action)
        self.menu.addSeparator()
        self.ask_action = QAction("Quick ask…", self.menu)
        self.ask_action.triggered.connect(self.quick_ask)
        self.open_action = QAction("Open Engram", self.menu)
        self.open_action.triggered.connect(self.open_main.emit)
        self.menu.addAction(self.ask_action)
        self.menu.addAction(self.open_action)
        self.menu.addSeparator()
        self.quit_action = QAction("Quit Engram", self.menu)
        self.quit_action.triggered.connect(self.quit_requested.emit)
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.popup = QuickAsk(svc, runner)
        self.popup.open_main.connect(self._open_from_popup)
        poller.updated.connect(lambda _s, state, until: self.set_state(state, until))
        self.set_state(svc.capture_state(), svc.paused_until)

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        if self.available():
            self.icon.show()

    def hide(self) -> None:
        self.icon.hide()
        self.popup.hide()

    def set_state(self, state: str, paused_until: datetime | None = None) -> None:
        changed = state != self.state
        self.state = state
        text = state_text(state, paused_until)
        self.state_action.setText(f"Engram: {text}")
        self.icon.setToolTip(f"Engram: {text}")
        if changed:
            self.icon.setIcon(tray_icon(state))
        paused = state == "paused"
        running = state != "stopped"
        for act in self.pause_actions:
            act.setEnabled(running and not (paused and paused_until is None))
        self.resume_action.setEnabled(paused)

    def pause(self, seconds: float | None) -> None:
        svc = self.svc

        def do() -> tuple[str, Any]:
            svc.pause(seconds)
            return svc.capture_state(), svc.paused_until

        self.runner.run(do, lambda r: self.set_state(*r), name="pause")

    def resume(self) -> None:
        svc = self.svc

        def do() -> tuple[str, Any]:
            svc.resume()
            return svc.capture_state(), svc.paused_until

        self.runner.run(do, lambda r: self.set_state(*r), name="resume")

    def quick_ask(self) -> None:
        self.popup.popup(self.icon.geometry() if self.available() else None)

    def _open_from_popup(self) -> None:
        self.popup.hide()
        self.open_main.emit()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.quick_ask()
        elif reason == QSystemTrayIcon.ActivationReason.DoubleClick:
            self.open_main.emit()
