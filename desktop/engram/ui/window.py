"""The main window: navigation (Chat, Timeline, Memories, Settings), status bar, shortcuts,
and its size, position and last page remembered in ENGRAM_HOME (not the real home).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engram.ui.chat import ChatView
from engram.ui.memories import MemoriesView
from engram.ui.ops import Runner
from engram.ui.settings import SettingsView
from engram.ui.status import StatusPoller, state_text
from engram.ui.theme import app_icon, icon, svg_pixmap
from engram.ui.timeline import TimelineView

PAGES = (
    ("chat", "Chat"),
    ("timeline", "Timeline"),
    ("memories", "Memories"),
    ("settings", "Settings"),
)


def ui_settings(svc: Any) -> QSettings:
    """Window state lives next to config.toml (ENGRAM_HOME in tests and portable installs)."""
    return QSettings(str(svc.paths.config / "ui.ini"), QSettings.Format.IniFormat)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class MainWindow(QMainWindow):
    """`hide_on_close`: with a tray, closing hides the window; without one it quits."""

    quit_requested = Signal()

    def __init__(
        self, svc: Any, runner: Runner, poller: StatusPoller, hide_on_close: bool = False
    ) -> None:
        super().__init__()
        self.svc = svc
        self.runner = runner
        self.poller = poller
        self.hide_on_close = hide_on_close
        self.setWindowTitle("Engram")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(QSize(860, 560))

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        side = QWidget()
        side.setObjectName("NavBar")
        side.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        sv = QVBoxLayout(side)
        sv.setContentsMargins(0, 0, 0, 0)
        brand_row = QHBoxLayout()
        brand_row.setContentsMargins(16, 14, 8, 8)
        logo = QLabel()
        logo.setPixmap(svg_pixmap("engram", 28))
        brand = QLabel("Engram")
        brand.setObjectName("Brand")
        brand_row.addWidget(logo)
        brand_row.addWidget(brand, 1)
        sv.addLayout(brand_row)
        self.nav = QListWidget()
        self.nav.setObjectName("NavBar")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFixedWidth(190)
        self.nav.setAccessibleName("Sections")
        self.nav.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        for n, (key, label) in enumerate(PAGES, 1):
            item = QListWidgetItem(icon(key), f"  {label}")
            item.setToolTip(f"{label} (Ctrl+{n})")
            self.nav.addItem(item)
        sv.addWidget(self.nav, 1)
        side.setFixedWidth(190)
        row.addWidget(side)

        self.stack = QStackedWidget()
        self.chat = ChatView(svc, runner)
        self.timeline = TimelineView(svc, runner)
        self.memories = MemoriesView(svc, runner)
        self.settings = SettingsView(svc, runner)
        for w in (self.chat, self.timeline, self.memories, self.settings):
            self.stack.addWidget(w)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self._page_changed)

        self.state_label = QLabel()
        self.queue_label = QLabel()
        self.today_label = QLabel()
        self.tokens_label = QLabel()
        self.mode_label = QLabel()
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        bar.addWidget(self.state_label)
        for w in (self.queue_label, self.today_label, self.tokens_label, self.mode_label):
            bar.addPermanentWidget(w)
        poller.updated.connect(self.show_status)
        poller.memories_changed.connect(self._memories_changed)
        self.refresh_timer = QTimer(self, singleShot=True, interval=600)
        self.refresh_timer.timeout.connect(self._refresh_views)

        for n in range(len(PAGES)):
            QShortcut(QKeySequence(f"Ctrl+{n + 1}"), self, lambda n=n: self.show_page(n))
        QShortcut(QKeySequence.StandardKey.New, self, self.new_chat)
        QShortcut(QKeySequence.StandardKey.Find, self, self.focus_search)
        QShortcut(QKeySequence("Ctrl+Q"), self, self.quit_requested.emit)
        self.restore()

    # -- pages ----------------------------------------------------------------------------
    def show_page(self, n: int) -> None:
        self.nav.setCurrentRow(n)

    def _page_changed(self, n: int) -> None:
        self.stack.setCurrentIndex(n)
        page = self.stack.currentWidget()
        if page is self.timeline and not self.timeline.model.rowCount():
            self.timeline.reload()
        elif page is self.memories:
            self.memories.refresh()
        elif page is self.chat:
            self.chat.focus_input()

    def new_chat(self) -> None:
        self.show_page(0)
        self.chat.new_chat()

    def focus_search(self) -> None:
        page = self.stack.currentWidget()
        if page is self.timeline:
            self.timeline.search.setFocus()
        elif page is self.chat:
            self.chat.focus_input()
        else:
            self.show_page(2)
            self.memories.focus_search()

    def _memories_changed(self, _ids: list) -> None:
        self.refresh_timer.start()

    def _refresh_views(self) -> None:
        page = self.stack.currentWidget()
        if page is self.memories:
            self.memories.refresh()
        if self.timeline.day == date.today() or page is self.timeline:
            self.timeline.reload()

    # -- status ---------------------------------------------------------------------------
    def show_status(self, status: dict, state: str, paused_until: datetime | None) -> None:
        dot = {"capturing": "#2fa36b", "paused": "#e0a030"}.get(state, "#8a8fa3")
        self.state_label.setText(
            f"<span style='color:{dot}'>●</span> {state_text(state, paused_until)}"
        )
        self.queue_label.setText(f"Queue {status.get('queue', 0)}")
        if "memories_today" in status:
            self.today_label.setText(f"{status['memories_today']} memories today")
        else:
            total = sum((status.get("memories") or {}).values())
            self.today_label.setText(f"{total} memories")
        self.tokens_label.setText(f"{status.get('tokens_today', 0):,} tokens today")
        self.mode_label.setText(
            "Offline mode" if status.get("llm") == "offline" else "Model connected"
        )
        self.mode_label.setToolTip(
            f"Data: {status.get('home', '')}, {human_bytes(int(status.get('bytes_on_disk', 0)))}"
        )

    # -- state ----------------------------------------------------------------------------
    def restore(self) -> None:
        s = ui_settings(self.svc)
        geo = s.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        else:
            self.resize(1180, 760)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        page = int(s.value("window/page", 0) or 0)
        self.nav.setCurrentRow(page if 0 <= page < len(PAGES) else 0)

    def save_state(self) -> None:
        s = ui_settings(self.svc)
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/page", self.nav.currentRow())
        s.sync()

    def bring_up(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, e: QCloseEvent) -> None:
        self.save_state()
        if self.hide_on_close:
            e.ignore()
            self.hide()
        else:
            e.accept()
            self.quit_requested.emit()
