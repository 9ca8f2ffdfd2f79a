"""One memory in full: its fields, where it came from (captures with time and thumbnail),
and related memories. Used by the timeline's side pane and by the dialog citation chips open.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engram.core.memory.models import Memory
from engram.ui.ops import Runner
from engram.ui.theme import app_colour

TYPE_LABELS = {
    "core": "Core",
    "episodic": "Episodic",
    "semantic": "Semantic",
    "procedural": "Procedural",
    "resource": "Resource",
    "knowledge_vault": "Knowledge vault",
}
FIELD_LABELS = {
    "event_type": "Event",
    "actor": "Actor",
    "details": "Details",
    "name": "Name",
    "source": "Source",
    "entry_type": "Kind",
    "steps": "Steps",
    "resource_type": "Kind",
    "content": "Content",
    "sensitivity": "Sensitivity",
    "value": "Text",
    "label": "Block",
    "summary": "Summary",
    "limit": "Limit",
}
HIDDEN = {"summary", "title", "caption", "occurred_at", "tree_path"}
MAX_SOURCES = 4


def short_path(p: object) -> str:
    """A path with the home directory written as ~."""
    from pathlib import Path

    path, home = Path(str(p)), Path.home()
    try:
        return "~/" + path.relative_to(home).as_posix()
    except ValueError:
        return str(path)


def local_time(dt: datetime, with_date: bool = True) -> str:
    t = dt.astimezone()
    return t.strftime("%a %d %b %Y, %H:%M") if with_date else t.strftime("%H:%M")


def as_datetime(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    if isinstance(v, int | float):
        return datetime.fromtimestamp(v).astimezone()
    if isinstance(v, str) and v:
        try:
            return datetime.fromisoformat(v)
        except ValueError:
            return None
    return None


def heading(m: Memory) -> str:
    """A semantic memory is titled by its name; others by their summary / title / caption."""
    if m.type == "semantic" and m.fields.get("name"):
        return str(m.fields["name"])
    return m.title


def field_html(m: Memory) -> str:
    rows = []
    hidden = HIDDEN - {"summary"} if m.type == "semantic" else HIDDEN
    for key, value in m.fields.items():
        if (
            (m.type == "semantic" and key == "name")
            or key in hidden
            or value in (None, "", [])
            or (key == "actor" and value == "user")
        ):
            continue
        if key == "steps":
            text = (
                "<ol style='margin:0'>"
                + "".join(f"<li>{html.escape(str(s))}</li>" for s in value)
                + "</ol>"
            )
        elif key == "content" and len(str(value)) > 1200:
            text = html.escape(str(value)[:1200]) + " …"
        else:
            text = html.escape(str(value)).replace("\n", "<br>")
        label = FIELD_LABELS.get(key, key.replace("_", " ").capitalize())
        rows.append(f"<p style='margin:6px 0'><b>{label}</b><br>{text}</p>")
    if m.has_secret:
        rows.append("<p style='margin:6px 0'><b>Secret</b><br>•••••••• (reveal it in Memories)</p>")
    return "".join(rows)


class SourceCard(QFrame):
    def __init__(self, info: dict[str, Any], thumb: bytes | None) -> None:
        super().__init__()
        self.setObjectName("Card")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        if thumb:
            pm = QPixmap()
            if pm.loadFromData(thumb):
                img = QLabel()
                img.setPixmap(
                    pm.scaled(
                        160,
                        100,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )
                lay.addWidget(img, 0, Qt.AlignmentFlag.AlignTop)
        when = local_time(at) if (at := as_datetime(info.get("at"))) else ""

        text = str(info.get("text") or "").strip().replace("\n", " ")
        body = QLabel(
            f"<b>{html.escape(str(info.get('app') or 'Unknown app'))}</b> · "
            f"<span>{html.escape(when)}</span><br>"
            f"<span>{html.escape(str(info.get('title') or ''))}</span>"
            + (
                f"<br><small>{html.escape(text[:220])}{' …' if len(text) > 220 else ''}</small>"
                if text
                else ""
            )
        )
        body.setWordWrap(True)
        body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(body, 1)


class MemoryDetails(QScrollArea):
    """Shows one memory; `show_memory(id)` loads it off the UI thread."""

    loaded = Signal(str)

    def __init__(self, svc: Any, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.runner = runner
        self.current: str | None = None
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        self.lay = QVBoxLayout(inner)
        self.lay.setContentsMargins(16, 14, 16, 14)
        self.lay.setSpacing(8)
        self.title = QLabel()
        self.title.setObjectName("Heading")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta = QLabel()
        self.meta.setObjectName("Muted")
        self.meta.setWordWrap(True)
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sources_head = QLabel("<b>Sources</b>")
        self.sources = QVBoxLayout()
        self.related_head = QLabel("<b>Related</b>")
        self.related = QVBoxLayout()
        self.related.setSpacing(4)
        for w in (self.title, self.meta, self.body, self.sources_head):
            self.lay.addWidget(w)
        self.lay.addLayout(self.sources)
        self.lay.addWidget(self.related_head)
        self.lay.addLayout(self.related)
        self.lay.addStretch(1)
        self.setWidget(inner)
        self.clear("Select an event to see its details.")

    def clear(self, message: str = "") -> None:
        self.current = None
        self.title.setText("")
        self.meta.setText(message)
        self.body.setText("")
        self._reset(self.sources)
        self._reset(self.related)
        self.sources_head.hide()
        self.related_head.hide()

    @staticmethod
    def _reset(layout: QVBoxLayout) -> None:
        while layout.count():
            item = layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

    def show_memory(self, mid: str) -> None:
        self.current = mid
        svc = self.svc

        def fetch() -> tuple[Memory, str | None]:
            m = svc.get_memory(mid)
            return m, m.app

        self.runner.run(fetch, self._show, self._failed, name="memory")

    def _failed(self, exc: Exception) -> None:
        self.clear(f"Could not load this memory: {exc}")

    def _show(self, got: tuple[Memory, str | None]) -> None:
        m, app = got
        if m.id != self.current:
            return
        self.title.setText(heading(m))
        bits = [TYPE_LABELS.get(m.type, m.type), local_time(m.occurred_at)]
        if app:
            colour = app_colour(app).name()
            bits.append(f"<span style='color:{colour}'>●</span> {html.escape(app)}")
        tree = m.fields.get("tree_path") or []
        if tree:
            bits.append(html.escape(" / ".join(tree)))
        self.meta.setText(" · ".join(bits))
        self.body.setText(field_html(m))
        self._reset(self.sources)
        self._reset(self.related)
        svc = self.svc
        caps = [s.ref for s in m.sources if s.kind == "capture"][:MAX_SOURCES]
        others = [s for s in m.sources if s.kind != "capture"]

        def extras() -> tuple[list[tuple[dict, bytes | None]], list]:
            found = []
            for uid in caps:
                info = svc.capture_info(uid)
                if info is not None:
                    found.append((info, svc.capture_thumbnail(uid)))
            return found, svc.related(m.id, k=5)

        self.sources_head.setVisible(bool(m.sources))
        for s in others[:MAX_SOURCES]:
            kind = "your edit" if s.kind == "user" else "chat message"
            lab = QLabel(f"{kind}: <code>{html.escape(s.ref)}</code>")
            lab.setObjectName("Muted")
            self.sources.addWidget(lab)
        self.runner.run(extras, lambda r, mid=m.id: self._extras(mid, r), self._extras_failed)
        self.loaded.emit(m.id)

    def _extras_failed(self, exc: Exception) -> None:
        lab = QLabel(f"Sources unavailable: {exc}")
        lab.setObjectName("Muted")
        self.sources.addWidget(lab)

    def _extras(self, mid: str, result: tuple[list, list]) -> None:
        if mid != self.current:
            return
        found, related = result
        for info, thumb in found:
            self.sources.addWidget(SourceCard(info, thumb))
        self.related_head.setVisible(bool(related))
        for hit in related:
            r = hit.memory
            btn = QPushButton(f"{TYPE_LABELS.get(r.type, r.type)} · {r.title[:80]}")
            btn.setObjectName("Chip")
            btn.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            btn.setToolTip(local_time(r.occurred_at))
            btn.clicked.connect(lambda _=False, rid=r.id: self.show_memory(rid))
            self.related.addWidget(btn)


class MemoryDialog(QDialog):
    """A memory opened from a citation chip (Esc closes it)."""

    def __init__(self, svc: Any, runner: Runner, mid: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Memory")
        self.resize(560, 560)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 10)
        self.details = MemoryDetails(svc, runner, self)
        lay.addWidget(self.details)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        row.setContentsMargins(0, 0, 12, 0)
        lay.addLayout(row)
        self.details.show_memory(mid)
