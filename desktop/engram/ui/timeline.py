"""Timeline: one day of episodic events along the hours, grouped by app, with a scrubber.

The event list is model/view (`TimelineModel`, a QAbstractListModel with uniform rows and a
painting delegate), filtered by a proxy, so a day with thousands of events scrolls
smoothly; thumbnails are fetched lazily, only for rows that are painted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engram.core.memory.models import Memory
from engram.ui.details import MemoryDetails
from engram.ui.ops import Runner
from engram.ui.theme import app_colour, colours, icon

ID_ROLE = Qt.ItemDataRole.UserRole + 1
TIME_ROLE = Qt.ItemDataRole.UserRole + 2
APP_ROLE = Qt.ItemDataRole.UserRole + 3
THUMB_ROLE = Qt.ItemDataRole.UserRole + 4
KIND_ROLE = Qt.ItemDataRole.UserRole + 5
THUMB_SIZE = QSize(96, 54)
ALL_APPS = "All apps"


@dataclass(frozen=True)
class Event:
    """One row of the timeline (local time)."""

    id: str
    at: datetime
    app: str
    summary: str
    event_type: str
    capture: str | None = None


def event_from_memory(m: Memory, app: str | None) -> Event:
    caps = [s.ref for s in m.sources if s.kind == "capture"]
    return Event(
        id=m.id,
        at=m.occurred_at.astimezone(),
        app=app or "Other",
        summary=str(m.fields.get("summary") or m.title),
        event_type=str(m.fields.get("event_type") or ""),
        capture=caps[0] if caps else None,
    )


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Local midnight to midnight, as aware datetimes."""
    start = datetime.combine(day, time.min).astimezone()
    return start, datetime.combine(day + timedelta(days=1), time.min).astimezone()


def load_day(svc: Any, day: date) -> list[Event]:
    """The day's episodic events with their app names (runs on a worker thread)."""
    start, end = day_bounds(day)
    mems = svc.timeline(start, end)
    return [event_from_memory(m, m.app) for m in mems]


class TimelineModel(QAbstractListModel):
    """Events of one day in time order; thumbnails load on first paint when enabled."""

    thumbs_wanted = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.events: list[Event] = []
        self.thumbnails_enabled = False
        self.thumbs: dict[str, QPixmap | None] = {}
        self.pending: list[str] = []
        self.row_of: dict[str, int] = {}

    def set_events(self, events: list[Event]) -> None:
        self.beginResetModel()
        self.events = sorted(events, key=lambda e: e.at)
        self.row_of = {e.capture: i for i, e in enumerate(self.events) if e.capture}
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.events)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or index.row() >= len(self.events):
            return None
        e = self.events[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return e.summary
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{e.at:%H:%M:%S} · {e.app}\n{e.summary}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{e.at:%H:%M} {e.app}: {e.summary}"
        if role == ID_ROLE:
            return e.id
        if role == TIME_ROLE:
            return e.at
        if role == APP_ROLE:
            return e.app
        if role == KIND_ROLE:
            return e.event_type
        if role == THUMB_ROLE:
            return self._thumb(e)
        return None

    def _thumb(self, e: Event) -> QPixmap | None:
        if not self.thumbnails_enabled or not e.capture:
            return None
        if e.capture in self.thumbs:
            return self.thumbs[e.capture]
        self.thumbs[e.capture] = None  # requested; painted without until it arrives
        self.pending.append(e.capture)
        self.thumbs_wanted.emit()
        return None

    def take_pending(self, n: int = 24) -> list[str]:
        # newest requests first: they are the rows on screen now
        batch, self.pending = self.pending[-n:], self.pending[:-n]
        return batch

    def set_thumbs(self, images: dict[str, QImage]) -> None:
        for uid, img in images.items():
            self.thumbs[uid] = QPixmap.fromImage(img) if not img.isNull() else None
            row = self.row_of.get(uid)
            if row is not None:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx, [THUMB_ROLE])

    def apps(self) -> list[str]:
        counts: dict[str, int] = {}
        for e in self.events:
            counts[e.app] = counts.get(e.app, 0) + 1
        return sorted(counts, key=lambda a: (-counts[a], a.lower()))


class TimelineFilter(QSortFilterProxyModel):
    """Filter by app and by text in the summary (case-insensitive)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.app: str | None = None
        self.text = ""

    def set_filter(self, app: str | None, text: str) -> None:
        self.beginFilterChange()
        self.app = app
        self.text = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        e = self.sourceModel().events[row]
        if self.app and e.app != self.app:
            return False
        return not self.text or self.text in e.summary.lower() or self.text in e.app.lower()


class EventDelegate(QStyledItemDelegate):
    """Paints a row: time, app colour bar and name, summary, optional thumbnail."""

    def __init__(self, model: TimelineModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.model = model

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(200, 64 if self.model.thumbnails_enabled else 48)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        c = colours()
        r = option.rect
        p.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            p.fillRect(r, option.palette.highlight())
        elif option.state & QStyle.StateFlag.State_MouseOver:
            p.fillRect(r, QColor(c.alt))
        text = QColor("#ffffff") if selected else QColor(c.text)
        muted = QColor("#e6e8ff") if selected else QColor(c.muted)
        at: datetime = index.data(TIME_ROLE)
        app = index.data(APP_ROLE)
        x = r.x() + 12
        p.setPen(muted)
        p.drawText(QRect(x, r.y(), 44, r.height()), Qt.AlignmentFlag.AlignVCenter, f"{at:%H:%M}")
        x += 50
        p.fillRect(QRect(x, r.y() + 8, 4, r.height() - 16), app_colour(app))
        x += 14
        thumb = index.data(THUMB_ROLE)
        if self.model.thumbnails_enabled:
            box = QRect(x, r.y() + (r.height() - THUMB_SIZE.height()) // 2, *THUMB_SIZE.toTuple())
            if isinstance(thumb, QPixmap):
                p.drawPixmap(box, thumb)
            else:
                p.fillRect(box, QColor(c.alt))
            x += THUMB_SIZE.width() + 12
        width = r.right() - x - 10
        f = QFont(option.font)
        f.setPointSizeF(f.pointSizeF() * 0.88)
        f.setBold(True)
        p.setFont(f)
        p.setPen(muted)
        kind = index.data(KIND_ROLE)
        head = f"{app}" + (f"  ·  {kind}" if kind and kind != "activity" else "")
        mid = r.y() + r.height() // 2
        p.drawText(QRect(x, r.y() + 4, width, mid - r.y() - 4), Qt.AlignmentFlag.AlignBottom, head)
        p.setFont(option.font)
        p.setPen(text)
        summary = option.fontMetrics.elidedText(
            index.data(Qt.ItemDataRole.DisplayRole), Qt.TextElideMode.ElideRight, width
        )
        p.drawText(
            QRect(x, mid + 1, width, r.bottom() - mid - 4), Qt.AlignmentFlag.AlignTop, summary
        )
        p.setPen(QColor(c.border))
        p.drawLine(r.left() + 12, r.bottom(), r.right() - 12, r.bottom())
        p.restore()


class DayStrip(QWidget):
    """Apps as lanes along the day's hours; click or drag to scrub to a time."""

    scrubbed = Signal(object)  # datetime
    LANE = 22
    MAX_SPAN = 30
    LEFT = 130
    TOP = 26

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.day = date.today()
        self.lanes: list[str] = []
        self.bins: dict[str, set[int]] = {}
        self.cursor: datetime | None = None
        self.h0, self.h1 = 8, 18
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Day scrubber")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._fit()

    def set_events(self, day: date, events: list[Event], apps: list[str]) -> None:
        self.day = day
        self.lanes = apps[:8]
        if len(apps) > 8:
            self.lanes.append("Other apps")
        self.bins = {a: set() for a in self.lanes}
        # an event lasts until the next one (at most MAX_SPAN minutes): activity blocks
        for i, e in enumerate(events):
            lane = e.app if e.app in self.bins else "Other apps"
            start = e.at.hour * 60 + e.at.minute
            end = start + 1
            if i + 1 < len(events) and events[i + 1].at.date() == e.at.date():
                nxt = events[i + 1].at
                end = max(end, min(nxt.hour * 60 + nxt.minute, start + self.MAX_SPAN))
            self.bins[lane].update(range(start, end))
        if events:
            first, last = events[0].at.hour, events[-1].at.hour + 1
            pad = max(0, 8 - (last - first))
            self.h0 = max(0, first - pad // 2 - pad % 2)
            self.h1 = min(24, max(last + pad // 2, self.h0 + 8))
        else:
            self.h0, self.h1 = 8, 18
        self.cursor = None
        self._fit()
        self.update()

    def _fit(self) -> None:
        self.setFixedHeight(self.TOP + max(1, len(self.lanes)) * self.LANE + 12)

    def _x(self, minute: float) -> float:
        span = (self.h1 - self.h0) * 60
        w = self.width() - self.LEFT - 16
        return self.LEFT + (minute - self.h0 * 60) / span * w

    def _minute(self, x: float) -> float:
        span = (self.h1 - self.h0) * 60
        w = max(1, self.width() - self.LEFT - 16)
        return min(max(self.h0 * 60 + (x - self.LEFT) / w * span, self.h0 * 60), self.h1 * 60 - 1)

    def set_cursor(self, at: datetime | None) -> None:
        self.cursor = at
        self.update()

    def paintEvent(self, _e: QPaintEvent) -> None:
        c = colours()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QColor(c.muted))
        small = QFont(self.font())
        small.setPointSizeF(small.pointSizeF() * 0.85)
        p.setFont(small)
        bottom = self.TOP + max(1, len(self.lanes)) * self.LANE
        for h in range(self.h0, self.h1 + 1):
            x = self._x(h * 60)
            p.setPen(QColor(c.border))
            p.drawLine(int(x), self.TOP - 4, int(x), bottom)
            p.setPen(QColor(c.muted))
            p.drawText(QRect(int(x) - 20, 4, 40, 16), Qt.AlignmentFlag.AlignCenter, f"{h:02d}:00")
        if not self.lanes:
            p.drawText(
                QRect(self.LEFT, self.TOP, self.width() - self.LEFT, self.LANE),
                Qt.AlignmentFlag.AlignCenter,
                "No activity recorded on this day",
            )
        for i, app in enumerate(self.lanes):
            y = self.TOP + i * self.LANE
            col = app_colour(app if app != "Other apps" else None)
            p.setPen(QColor(c.text))
            p.setBrush(col)
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(12, y + self.LANE // 2 - 4, 8, 8)
            p.setPen(QColor(c.text))
            label = p.fontMetrics().elidedText(app, Qt.TextElideMode.ElideRight, self.LEFT - 36)
            p.drawText(
                QRect(26, y, self.LEFT - 30, self.LANE), Qt.AlignmentFlag.AlignVCenter, label
            )
            p.setPen(Qt.PenStyle.NoPen)
            bar = QColor(col)
            for minute in self.bins.get(app, ()):
                if self.h0 * 60 <= minute < self.h1 * 60:
                    x0 = self._x(minute)
                    x1 = self._x(minute + 1)
                    p.fillRect(QRect(int(x0), y + 4, max(2, int(x1 - x0) + 1), self.LANE - 8), bar)
        if self.cursor is not None:
            m = self.cursor.hour * 60 + self.cursor.minute + self.cursor.second / 60
            x = int(self._x(m))
            p.setPen(QColor("#e0485a"))
            p.drawLine(x, self.TOP - 6, x, bottom + 4)
            p.setBrush(QColor("#e0485a"))
            p.drawEllipse(x - 4, self.TOP - 10, 8, 8)
            p.drawText(
                QRect(x + 6, bottom - 2, 60, 14), Qt.AlignmentFlag.AlignLeft, f"{self.cursor:%H:%M}"
            )
        p.end()

    def _scrub(self, x: float) -> None:
        minute = self._minute(x)
        start, _ = day_bounds(self.day)
        at = start + timedelta(minutes=minute)
        self.set_cursor(at)
        self.scrubbed.emit(at)

    def mousePressEvent(self, e: QMouseEvent) -> None:
        self._scrub(e.position().x())

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if e.buttons() & Qt.MouseButton.LeftButton:
            self._scrub(e.position().x())

    def keyPressEvent(self, e: Any) -> None:
        step = {Qt.Key.Key_Left: -5, Qt.Key.Key_Right: 5}.get(e.key())
        if step is None:
            return super().keyPressEvent(e)
        base = self.cursor or day_bounds(self.day)[0] + timedelta(hours=self.h0)
        at = base + timedelta(minutes=step)
        self.set_cursor(at)
        self.scrubbed.emit(at)


class TimelineView(QWidget):
    """Date bar, scrubber strip, filtered event list and the selected event's details."""

    def __init__(self, svc: Any, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.runner = runner
        self.day = date.today()
        self.model = TimelineModel(self)
        self.proxy = TimelineFilter(self)
        self.proxy.setSourceModel(self.model)
        self.thumb_timer = QTimer(self, singleShot=True, interval=40)
        self.thumb_timer.timeout.connect(self._load_thumbs)
        self.model.thumbs_wanted.connect(self.thumb_timer.start)
        self._loading = 0

        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 12)
        lay.setSpacing(10)
        bar = QHBoxLayout()
        self.prev_btn = QToolButton()
        self.prev_btn.setIcon(icon("chevron-left"))
        self.prev_btn.setToolTip("Previous day (Alt+Left)")
        self.prev_btn.setShortcut("Alt+Left")
        self.prev_btn.clicked.connect(lambda: self.set_day(self.day - timedelta(days=1)))
        self.date_edit = QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("dddd d MMMM yyyy")
        self.date_edit.setAccessibleName("Day")
        self.date_edit.setMinimumWidth(220)
        self.date_edit.dateChanged.connect(lambda d: self.set_day(d.toPython()))
        self.next_btn = QToolButton()
        self.next_btn.setIcon(icon("chevron-right"))
        self.next_btn.setToolTip("Next day (Alt+Right)")
        self.next_btn.setShortcut("Alt+Right")
        self.next_btn.clicked.connect(lambda: self.set_day(self.day + timedelta(days=1)))
        today = QPushButton("Today")
        today.clicked.connect(lambda: self.set_day(date.today()))
        self.app_box = QComboBox()
        self.app_box.setAccessibleName("Filter by app")
        self.app_box.setMinimumWidth(160)
        self.app_box.currentTextChanged.connect(self._refilter)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter events…")
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._refilter)
        self.count = QLabel()
        self.count.setObjectName("Muted")
        for w in (self.prev_btn, self.date_edit, self.next_btn, today):
            bar.addWidget(w)
        bar.addSpacing(12)
        bar.addWidget(self.count)
        bar.addStretch(1)
        bar.addWidget(self.app_box)
        bar.addWidget(self.search)
        lay.addLayout(bar)

        self.strip = DayStrip()
        self.strip.scrubbed.connect(self._scrubbed)
        lay.addWidget(self.strip)

        split = QSplitter()
        self.list = QListView()
        self.list.setModel(self.proxy)
        self.list.setItemDelegate(EventDelegate(self.model, self.list))
        self.list.setUniformItemSizes(True)
        self.list.setMouseTracking(True)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setAccessibleName("Events")
        self.list.selectionModel().currentChanged.connect(self._selected)
        self.details = MemoryDetails(svc, runner)
        split.addWidget(self.list)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([620, 420])
        lay.addWidget(split, 1)
        self._set_date_edit()

    def _set_date_edit(self) -> None:
        self.date_edit.blockSignals(True)
        self.date_edit.setDate(QDate(self.day.year, self.day.month, self.day.day))
        self.date_edit.blockSignals(False)

    def set_day(self, day: date) -> None:
        self.day = day
        self._set_date_edit()
        self.reload()

    def reload(self) -> None:
        day = self.day
        self._loading += 1
        self.count.setText("Loading…")
        self.model.thumbnails_enabled = bool(self.svc.settings.thumbnails)
        self.runner.run(
            lambda: load_day(self.svc, day),
            lambda evs: self._loaded(day, evs),
            self._failed,
            name="timeline",
        )

    def _failed(self, exc: Exception) -> None:
        self._loading -= 1
        self.count.setText(f"Could not load the day: {exc}")

    def _loaded(self, day: date, events: list[Event]) -> None:
        self._loading -= 1
        if day != self.day:
            return
        self.model.set_events(events)
        apps = self.model.apps()
        current = self.app_box.currentText()
        self.app_box.blockSignals(True)
        self.app_box.clear()
        self.app_box.addItem(ALL_APPS)
        for a in apps:
            self.app_box.addItem(icon_dot(a), a)
        self.app_box.setCurrentText(current if current in apps else ALL_APPS)
        self.app_box.blockSignals(False)
        self.strip.set_events(day, self.model.events, apps)
        self._refilter()
        self.details.clear(
            "Select an event to see its details." if events else "Nothing was recorded on this day."
        )

    @property
    def loading(self) -> bool:
        return self._loading > 0

    def _refilter(self, *_a: object) -> None:
        app = self.app_box.currentText()
        self.proxy.set_filter(None if app in ("", ALL_APPS) else app, self.search.text())
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{total} events" if shown == total else f"{shown} of {total} events")

    def _selected(self, current: QModelIndex, _prev: QModelIndex) -> None:
        if not current.isValid():
            return
        self.strip.set_cursor(current.data(TIME_ROLE))
        self.details.show_memory(current.data(ID_ROLE))

    def _scrubbed(self, at: datetime) -> None:
        n = self.proxy.rowCount()
        if not n:
            return
        # binary search over the (time-ordered) filtered rows
        lo, hi = 0, n - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.proxy.index(mid, 0).data(TIME_ROLE) < at:
                lo = mid + 1
            else:
                hi = mid
        idx = self.proxy.index(lo, 0)
        self.list.selectionModel().setCurrentIndex(
            idx, self.list.selectionModel().SelectionFlag.ClearAndSelect
        )
        self.list.scrollTo(idx, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _load_thumbs(self) -> None:
        uids = self.model.take_pending()
        if not uids:
            return
        svc = self.svc

        def fetch() -> dict[str, QImage]:
            out = {}
            for uid in uids:
                data = svc.capture_thumbnail(uid)
                img = QImage.fromData(data) if data else QImage()
                if not img.isNull():
                    img = img.scaled(
                        THUMB_SIZE * 2,
                        Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                out[uid] = img
            return out

        self.runner.run(fetch, self.model.set_thumbs, name="thumbnails")
        if self.model.pending:
            self.thumb_timer.start()


def icon_dot(app: str) -> Any:
    pm = QPixmap(12, 12)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(app_colour(app))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(1, 1, 10, 10)
    p.end()
    from PySide6.QtGui import QIcon

    return QIcon(pm)
