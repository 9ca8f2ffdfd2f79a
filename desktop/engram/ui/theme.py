"""Look and feel: light/dark palettes that follow the system, one stylesheet, app colours.

Qt's Fusion style with our own palette renders the same on every platform and in the
offscreen screenshots; the colour scheme follows the OS setting and switches live.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from engram.core.config import asset_path

ACCENT = "#5b6cf9"
# distinct, readable on light and dark; an app keeps its colour across days and runs
APP_COLOURS = (
    "#5b6cf9",
    "#2fa36b",
    "#e0803a",
    "#d0487a",
    "#2f9fc1",
    "#9a5ae0",
    "#c9a227",
    "#4f8f8a",
    "#c2553f",
    "#6f7fa0",
    "#3fb5a3",
    "#e35d9c",
    "#7d9b2f",
    "#b07a4f",
    "#4a7bd0",
    "#a05ad0",
)


@dataclass(frozen=True)
class Colours:
    dark: bool
    window: str
    base: str
    alt: str
    text: str
    muted: str
    border: str
    bubble_user: str
    bubble_bot: str
    chip: str


LIGHT = Colours(
    False,
    "#f5f6fa",
    "#ffffff",
    "#eef0f6",
    "#1d2030",
    "#6b7084",
    "#dfe2ec",
    "#e3e7ff",
    "#ffffff",
    "#eceffe",
)
DARK = Colours(
    True,
    "#1b1d26",
    "#23262f",
    "#2a2d38",
    "#e8eaf2",
    "#9499ab",
    "#363a48",
    "#34396a",
    "#272a35",
    "#31354a",
)


def is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def colours() -> Colours:
    return DARK if is_dark() else LIGHT


def app_colour(app: str | None) -> QColor:
    """A stable colour per app name (hash, not order, so it survives filtering and days)."""
    if not app:
        return QColor("#8a8fa3")
    h = int(hashlib.sha1(app.lower().encode()).hexdigest()[:8], 16)
    return QColor(APP_COLOURS[h % len(APP_COLOURS)])


def _palette(c: Colours) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, v in (
        (role.Window, c.window),
        (role.Base, c.base),
        (role.AlternateBase, c.alt),
        (role.Text, c.text),
        (role.WindowText, c.text),
        (role.ButtonText, c.text),
        (role.Button, c.base),
        (role.ToolTipBase, c.base),
        (role.ToolTipText, c.text),
        (role.PlaceholderText, c.muted),
        (role.Highlight, ACCENT),
        (role.HighlightedText, "#ffffff"),
        (role.Link, ACCENT if not c.dark else "#9aa6ff"),
        (role.Mid, c.border),
        (role.Midlight, c.alt),
        (role.Light, c.base),
        (role.Dark, c.border),
    ):
        p.setColor(r, QColor(v))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c.muted))
    return p


def arrow(direction: str) -> str:
    return asset_path(f"icons/arrow-{direction}.svg").as_posix()


def stylesheet(c: Colours) -> str:
    return f"""
    QWidget {{ font-size: 10pt; }}
    QToolTip {{ border: 1px solid {c.border}; padding: 4px; }}
    #NavBar {{ background: {c.alt}; border: none; padding-top: 8px; }}
    #NavBar::item {{ padding: 10px 14px; margin: 2px 8px; border-radius: 8px; color: {c.text}; }}
    #NavBar::item:selected {{ background: {ACCENT}; color: white; }}
    #NavBar::item:hover:!selected {{ background: {c.border}; }}
    #Brand {{ font-size: 14pt; font-weight: 600; padding-left: 4px; }}
    QLineEdit, QPlainTextEdit, QTextEdit, QSpinBox, QDoubleSpinBox, QComboBox, QDateEdit,
    QDateTimeEdit {{
        background: {c.base}; border: 1px solid {c.border}; border-radius: 6px; padding: 5px 7px;
        selection-background-color: {ACCENT};
    }}
    QLineEdit:focus, QPlainTextEdit:focus, QTextEdit:focus, QComboBox:focus {{
        border: 1px solid {ACCENT};
    }}
    QPushButton, QToolButton {{
        background: {c.base}; border: 1px solid {c.border}; border-radius: 6px; padding: 5px 12px;
    }}
    QPushButton:hover, QToolButton:hover {{ border-color: {ACCENT}; }}
    QPushButton:focus, QToolButton:focus {{ border-color: {ACCENT}; }}
    QToolButton[autoRaise="true"] {{ border: none; background: transparent; padding: 4px; }}
    QToolButton[autoRaise="true"]:hover {{ background: {c.alt}; }}
    QPushButton#Primary {{ background: {ACCENT}; color: white; border: 1px solid {ACCENT}; }}
    QPushButton#Danger {{ color: #d0485a; }}
    QPushButton#Chip {{
        background: {c.chip}; border: 1px solid {c.border}; border-radius: 11px;
        padding: 2px 10px; font-size: 9pt; text-align: left;
    }}
    QPushButton#Chip:hover {{ border-color: {ACCENT}; }}
    QListView, QTreeView, QTableView, QListWidget, QTreeWidget {{
        background: {c.base}; border: 1px solid {c.border}; border-radius: 8px;
        alternate-background-color: {c.alt};
    }}
    QHeaderView::section {{
        background: {c.alt}; border: none; border-bottom: 1px solid {c.border}; padding: 5px;
    }}
    QTabWidget::pane {{ border: 1px solid {c.border}; border-radius: 8px; top: -1px; }}
    QTabBar::tab {{ padding: 6px 14px; border: none; color: {c.muted}; }}
    QTabBar::tab:selected {{ color: {c.text}; border-bottom: 2px solid {ACCENT}; }}
    QGroupBox {{
        border: 1px solid {c.border}; border-radius: 8px; margin-top: 14px; padding: 10px;
        font-weight: 600;
    }}
    QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; }}
    QStatusBar {{ background: {c.alt}; color: {c.muted}; border-top: 1px solid {c.border}; }}
    QStatusBar QLabel {{ padding: 0 8px; color: {c.muted}; }}
    #Muted {{ color: {c.muted}; }}
    #Heading {{ font-size: 14pt; font-weight: 600; }}
    #Bubble {{ background: {c.bubble_bot}; border: 1px solid {c.border}; border-radius: 12px; }}
    #BubbleUser {{ background: {c.bubble_user}; border: none; border-radius: 12px; }}
    #Card {{ background: {c.base}; border: 1px solid {c.border}; border-radius: 10px; }}
    #Badge {{
        background: {c.alt}; color: {c.muted}; border-radius: 8px; padding: 1px 8px;
        font-size: 8.5pt;
    }}
    QComboBox::drop-down, QDateEdit::drop-down, QDateTimeEdit::drop-down {{
        border: none; width: 22px;
    }}
    QComboBox::down-arrow, QDateEdit::down-arrow, QDateTimeEdit::down-arrow,
    QSpinBox::down-arrow, QDoubleSpinBox::down-arrow {{
        image: url({arrow("down")}); width: 10px; height: 10px;
    }}
    QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{
        image: url({arrow("up")}); width: 10px; height: 10px;
    }}
    QSpinBox::up-button, QSpinBox::down-button, QDoubleSpinBox::up-button,
    QDoubleSpinBox::down-button {{ border: none; width: 18px; }}
    QTreeView::item, QListWidget::item {{ padding: 3px 2px; }}
    QScrollArea {{ border: none; background: transparent; }}
    #Transcript {{ background: {c.window}; }}
    QSplitter::handle {{ background: transparent; }}
    """


def apply_theme(app: QApplication) -> None:
    """Set palette and stylesheet for the current system scheme; call again on change."""
    c = colours()
    app.setStyle("Fusion")
    app.setPalette(_palette(c))
    app.setStyleSheet(stylesheet(c))
    icon.cache_clear()


@lru_cache(maxsize=256)
def _svg_bytes(name: str) -> bytes:
    return asset_path(f"icons/{name}.svg").read_bytes()


def svg_pixmap(name: str, size: int, colour: str | None = None, dpr: float = 2.0) -> QPixmap:
    """Render an SVG from assets/icons at `size` logical px (HiDPI), tinting currentColor."""
    data = _svg_bytes(name)
    if colour:
        data = data.replace(b"currentColor", colour.encode())
    renderer = QSvgRenderer(QByteArray(data))
    pm = QPixmap(QSize(int(size * dpr), int(size * dpr)))
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    pm.setDevicePixelRatio(dpr)
    return pm


@lru_cache(maxsize=256)
def icon(name: str, colour: str | None = None) -> QIcon:
    """A crisp multi-size icon; glyphs default to the palette's text colour."""
    tint = colour or colours().text
    ic = QIcon()
    for s in (16, 20, 24, 32, 48, 64, 128):
        ic.addPixmap(svg_pixmap(name, s, tint, 1.0))
    selected = svg_pixmap(name, 24, "#ffffff", 2.0)
    ic.addPixmap(selected, QIcon.Mode.Selected)
    return ic


def tray_icon(state: str) -> QIcon:
    """The tray glyph for a capture state, drawn for the panel's light or dark colour."""
    variant = "dark" if is_dark() else "light"
    kind = "capturing" if state == "capturing" else "paused"
    ic = QIcon()
    for s in (16, 22, 24, 32, 48, 64):
        ic.addPixmap(svg_pixmap(f"tray-{kind}-{variant}", s, None, 1.0))
    return ic


def app_icon() -> QIcon:
    ic = QIcon()
    for s in (16, 24, 32, 48, 64, 128, 256):
        ic.addPixmap(svg_pixmap("engram", s, None, 1.0))
    return ic
