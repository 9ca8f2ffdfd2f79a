"""Memory browser: a tab per memory type, search, edit, delete, and forget by app or time.

Core blocks are edited as text against their character budget; semantic and episodic
memories can also be grouped as a tree by `tree_path`; Knowledge Vault secrets stay masked
until the user confirms Reveal, and are masked again after a short while.
"""

from __future__ import annotations

import typing
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engram.core.memory.models import CORE_LIMIT, FIELDS, MEMORY_TYPES, Memory
from engram.ui.details import TYPE_LABELS, MemoryDetails, local_time
from engram.ui.ops import Runner
from engram.ui.theme import icon

MASK = "••••••••"
REMASK_MS = 30_000
LIST_LIMIT = 500
TREE_TYPES = ("semantic", "episodic")
LONG_TEXT = {"details", "content", "summary", "value"}
ID_ROLE = Qt.ItemDataRole.UserRole


class MemoryEditor(QDialog):
    """A form built from the type's field model; returns only the changed fields."""

    def __init__(self, m: Memory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.m = m
        self.setWindowTitle(f"Edit {TYPE_LABELS.get(m.type, m.type).lower()} memory")
        self.resize(560, 480)
        form = QFormLayout()
        self.widgets: dict[str, tuple[str, QWidget]] = {}
        for name, info in FIELDS[m.type].model_fields.items():
            if name == "secret_value" or (m.type == "core" and name == "label"):
                continue
            value = m.fields.get(name)
            kind, w = self._widget(name, info.annotation, value)
            self.widgets[name] = (kind, w)
            form.addRow(name.replace("_", " ").capitalize(), w)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    @staticmethod
    def _widget(name: str, ann: Any, value: Any) -> tuple[str, QWidget]:
        if typing.get_origin(ann) is typing.Literal:
            box = QComboBox()
            box.addItems([str(a) for a in typing.get_args(ann)])
            box.setCurrentText(str(value or ""))
            return "choice", box
        if ann is datetime:
            edit = QDateTimeEdit()
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
            dt = datetime.fromisoformat(value) if isinstance(value, str) else value
            edit.setDateTime(QDateTime(dt.astimezone()) if dt else QDateTime.currentDateTime())
            return "datetime", edit
        if ann is int:
            spin = QSpinBox()
            spin.setRange(0, 1_000_000)
            spin.setValue(int(value or 0))
            return "int", spin
        if name == "tree_path":
            line = QLineEdit(" / ".join(value or []))
            line.setPlaceholderText("topic / subtopic")
            return "text", line
        if typing.get_origin(ann) is list:
            text = QPlainTextEdit("\n".join(str(v) for v in value or []))
            text.setPlaceholderText("one per line")
            return "lines", text
        if name in LONG_TEXT:
            text = QPlainTextEdit(str(value or ""))
            text.setMinimumHeight(70)
            return "long", text
        return "text", QLineEdit(str(value or ""))

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, (kind, w) in self.widgets.items():
            if kind == "choice":
                v: Any = w.currentText()
            elif kind == "datetime":
                v = w.dateTime().toPython().astimezone()
            elif kind == "int":
                v = w.value()
            elif kind == "lines":
                v = [s.strip() for s in w.toPlainText().splitlines() if s.strip()]
            elif kind == "long":
                v = w.toPlainText()
            else:
                v = w.text()
            old = self.m.fields.get(name)
            if name == "tree_path":
                v = [p.strip() for p in v.split("/") if p.strip()]
            if kind == "datetime" and isinstance(old, str):
                if abs((datetime.fromisoformat(old) - v).total_seconds()) < 1:
                    continue
            elif v == old or (v in ("", []) and old in (None, "", [])):
                continue
            out[name] = v
        return out


class ForgetDialog(QDialog):
    """Forget everything from one app, or everything in a time range."""

    def __init__(self, app: str | None, at: datetime | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Forget")
        lay = QVBoxLayout(self)
        intro = QLabel(
            "Forgetting deletes memories, captures and thumbnails for good, including old "
            "versions. This cannot be undone."
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.by_app = QRadioButton("Everything from this app")
        self.by_time = QRadioButton("Everything in this time range")
        group = QButtonGroup(self)
        group.addButton(self.by_app)
        group.addButton(self.by_time)
        self.app = QLineEdit(app or "")
        self.app.setPlaceholderText("application name, e.g. Firefox")
        centre = at or datetime.now().astimezone()
        self.since = QDateTimeEdit(QDateTime(centre - timedelta(hours=1)))
        self.until = QDateTimeEdit(QDateTime(centre + timedelta(hours=1)))
        for e in (self.since, self.until):
            e.setCalendarPopup(True)
            e.setDisplayFormat("yyyy-MM-dd HH:mm")
        form = QFormLayout()
        form.addRow(self.by_app)
        form.addRow("App", self.app)
        form.addRow(self.by_time)
        form.addRow("From", self.since)
        form.addRow("Until", self.until)
        lay.addLayout(form)
        (self.by_app if app else self.by_time).setChecked(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        go = buttons.addButton("Forget", QDialogButtonBox.ButtonRole.AcceptRole)
        go.setObjectName("Danger")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def criteria(self) -> dict[str, Any]:
        if self.by_app.isChecked():
            name = self.app.text().strip()
            if not name:
                raise ValueError("name the app to forget")
            return {"app": name}
        since = self.since.dateTime().toPython().astimezone()
        until = self.until.dateTime().toPython().astimezone()
        if until <= since:
            raise ValueError("the end of the range must be after its start")
        return {"since": since, "until": until}


class CoreTab(QWidget):
    """The persona and human blocks as text, each with its character budget."""

    def __init__(self, svc: Any, runner: Runner) -> None:
        super().__init__()
        self.svc = svc
        self.runner = runner
        self.limits = {"persona": CORE_LIMIT, "human": CORE_LIMIT}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 12, 14, 12)
        self.edits: dict[str, QPlainTextEdit] = {}
        self.counters: dict[str, QLabel] = {}
        blurbs = {
            "persona": "How Engram should behave and answer.",
            "human": "What Engram knows about you: name, role, projects, preferences.",
        }
        for label in ("human", "persona"):
            head = QHBoxLayout()
            title = QLabel(f"<b>{label.capitalize()}</b>  <span>{blurbs[label]}</span>")
            head.addWidget(title, 1)
            counter = QLabel()
            counter.setObjectName("Muted")
            head.addWidget(counter)
            save = QPushButton("Save")
            save.clicked.connect(lambda _=False, lb=label: self.save(lb))
            head.addWidget(save)
            lay.addLayout(head)
            edit = QPlainTextEdit()
            edit.setAccessibleName(f"{label} core memory")
            edit.textChanged.connect(lambda lb=label: self._count(lb))
            lay.addWidget(edit, 1)
            self.edits[label] = edit
            self.counters[label] = counter
            self._count(label)
        self.status = QLabel()
        self.status.setObjectName("Muted")
        lay.addWidget(self.status)

    def _count(self, label: str) -> None:
        n, limit = len(self.edits[label].toPlainText()), self.limits[label]
        colour = "#d0485a" if n > limit else ("#c98a1a" if n > 0.9 * limit else "")
        style = f" style='color:{colour}'" if colour else ""
        self.counters[label].setText(f"<span{style}>{n} / {limit} characters</span>")

    def refresh(self, _query: str = "") -> None:
        self.runner.run(lambda: self.svc.list_memories("core", limit=10), self._fill)

    def _fill(self, mems: list[Memory]) -> None:
        for m in mems:
            label = m.fields.get("label")
            if label in self.edits and not self.edits[label].document().isModified():
                self.limits[label] = int(m.fields.get("limit") or CORE_LIMIT)
                self.edits[label].setPlainText(str(m.fields.get("value") or ""))
                self.edits[label].document().setModified(False)
                self._count(label)

    def save(self, label: str) -> None:
        value = self.edits[label].toPlainText()
        fields = {"label": label, "value": value, "limit": self.limits[label]}
        self.status.setText("Saving…")

        def done(_m: Memory) -> None:
            self.edits[label].document().setModified(False)
            self.status.setText(f"Saved the {label} block.")

        self.runner.run(
            lambda: self.svc.add_memory("core", fields),
            done,
            lambda exc: self.status.setText(f"Not saved: {exc}"),
        )


class TypeTab(QWidget):
    """Memories of one type: list (or tree), details, edit, delete (and Reveal for the vault)."""

    changed = Signal()

    def __init__(self, svc: Any, runner: Runner, mtype: str) -> None:
        super().__init__()
        self.svc = svc
        self.runner = runner
        self.mtype = mtype
        self.vault = mtype == "knowledge_vault"
        self.memories: dict[str, Memory] = {}
        self.revealed: dict[str, str] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 10, 10, 10)
        tools = QHBoxLayout()
        self.tree_mode = QCheckBox("Group by topic")
        self.tree_mode.setVisible(mtype in TREE_TYPES)
        self.tree_mode.toggled.connect(lambda _v: self._fill_tree())
        tools.addWidget(self.tree_mode)
        self.count = QLabel()
        self.count.setObjectName("Muted")
        tools.addWidget(self.count)
        tools.addStretch(1)
        self.reveal_btn = QPushButton(icon("eye"), " Reveal")
        self.reveal_btn.setVisible(self.vault)
        self.reveal_btn.clicked.connect(self.reveal)
        self.edit_btn = QPushButton(icon("edit"), " Edit")
        self.edit_btn.clicked.connect(self.edit)
        self.delete_btn = QPushButton(icon("trash"), " Delete")
        self.delete_btn.setObjectName("Danger")
        self.delete_btn.clicked.connect(self.delete)
        for b in (self.reveal_btn, self.edit_btn, self.delete_btn):
            tools.addWidget(b)
        lay.addLayout(tools)
        split = QSplitter()
        self.tree = QTreeWidget()
        cols = ["Caption", "Kind", "Sensitivity", "Secret"] if self.vault else ["Memory", "When"]
        self.tree.setHeaderLabels(cols)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAccessibleName(f"{TYPE_LABELS[mtype]} memories")
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, self.tree.header().ResizeMode.Stretch)
        self.tree.currentItemChanged.connect(self._current)
        self.tree.itemActivated.connect(lambda *_: self.edit())
        self.details = MemoryDetails(svc, runner)
        self.details.clear("Select a memory.")
        split.addWidget(self.tree)
        split.addWidget(self.details)
        split.setSizes([560, 400])
        lay.addWidget(split, 1)
        self.remask = QTimer(self, singleShot=True, interval=REMASK_MS)
        self.remask.timeout.connect(self.mask_all)
        self._buttons()

    def selected_id(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, ID_ROLE) if item else None

    def _buttons(self) -> None:
        has = self.selected_id() is not None
        for b in (self.edit_btn, self.delete_btn, self.reveal_btn):
            b.setEnabled(has)

    def _current(self, item: QTreeWidgetItem | None, _prev: Any) -> None:
        self._buttons()
        mid = item.data(0, ID_ROLE) if item else None
        if mid:
            self.details.show_memory(mid)

    def refresh(self, query: str = "") -> None:
        svc, t, q = self.svc, self.mtype, query.strip()
        if q:
            fn = lambda: [h.memory for h in svc.search(q, k=50, types=[t])]  # noqa: E731
        else:
            fn = lambda: svc.list_memories(t, limit=LIST_LIMIT)  # noqa: E731
        self.runner.run(fn, self._fill, lambda exc: self.count.setText(f"Error: {exc}"))

    def _fill(self, mems: list[Memory]) -> None:
        self.memories = {m.id: m for m in mems}
        self.count.setText(f"{len(mems)} shown")
        self._fill_tree()

    def _row(self, m: Memory) -> QTreeWidgetItem:
        if self.vault:
            f = m.fields
            secret = self.revealed.get(m.id, MASK if m.has_secret else "—")
            item = QTreeWidgetItem(
                [f.get("caption", ""), f.get("entry_type", ""), f.get("sensitivity", ""), secret]
            )
        else:
            title = m.title
            if m.type == "semantic":
                title = f"{m.fields.get('name', '')}: {m.fields.get('summary', '')}"
            item = QTreeWidgetItem([title, local_time(m.occurred_at)])
        item.setData(0, ID_ROLE, m.id)
        item.setToolTip(0, m.title)
        return item

    def _fill_tree(self) -> None:
        keep = self.selected_id()
        self.tree.clear()
        grouped = self.tree_mode.isChecked() and self.mtype in TREE_TYPES
        self.tree.setRootIsDecorated(grouped)
        nodes: dict[tuple[str, ...], QTreeWidgetItem] = {}
        for m in self.memories.values():
            item = self._row(m)
            path = tuple(m.fields.get("tree_path") or []) if grouped else ()
            if grouped and not path:
                path = ("(no topic)",)
            parent = None
            for depth in range(1, len(path) + 1):
                key = path[:depth]
                if key not in nodes:
                    node = QTreeWidgetItem([key[-1], ""])
                    f = node.font(0)
                    f.setBold(True)
                    node.setFont(0, f)
                    (parent.addChild(node) if parent else self.tree.addTopLevelItem(node))
                    node.setExpanded(True)
                    nodes[key] = node
                parent = nodes[key]
            (parent.addChild(item) if parent else self.tree.addTopLevelItem(item))
            if m.id == keep:
                self.tree.setCurrentItem(item)
        if not self.vault:
            self.tree.resizeColumnToContents(1)
        self._buttons()

    def _item(self, mid: str) -> QTreeWidgetItem | None:
        it = self.tree.invisibleRootItem()
        stack = [it.child(i) for i in range(it.childCount())]
        while stack:
            node = stack.pop()
            if node.data(0, ID_ROLE) == mid:
                return node
            stack.extend(node.child(i) for i in range(node.childCount()))
        return None

    def reveal(self) -> None:
        mid = self.selected_id()
        if not mid:
            return
        m = self.memories[mid]
        ok = QMessageBox.question(
            self,
            "Reveal secret",
            f"Show the secret value of “{m.fields.get('caption', '')}” on screen?\n\n"
            "It will be hidden again after 30 seconds.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if ok != QMessageBox.StandardButton.Yes:
            return
        self.runner.run(lambda: self.svc.reveal_secret(mid), lambda s: self._revealed(mid, s))

    def _revealed(self, mid: str, secret: str | None) -> None:
        self.revealed[mid] = secret if secret is not None else "(no secret stored)"
        item = self._item(mid)
        if item is not None:
            item.setText(3, self.revealed[mid])
        self.remask.start()

    def mask_all(self) -> None:
        self.revealed.clear()
        self._fill_tree()

    def edit(self) -> None:
        mid = self.selected_id()
        if not mid:
            return
        dlg = MemoryEditor(self.memories[mid], self)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        changes = dlg.changes()
        if not changes:
            return
        self.runner.run(
            lambda: self.svc.edit_memory(mid, changes),
            lambda _m: self.changed.emit(),
            lambda exc: QMessageBox.warning(self, "Not saved", str(exc)),
        )

    def delete(self) -> None:
        mid = self.selected_id()
        if not mid:
            return
        title = self.memories[mid].title
        ok = QMessageBox.question(
            self,
            "Delete memory",
            f"Delete “{title[:80]}” and all its versions?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if ok != QMessageBox.StandardButton.Yes:
            return
        self.runner.run(
            lambda: self.svc.delete_memory(mid),
            lambda _n: self._deleted(mid),
            lambda exc: QMessageBox.warning(self, "Not deleted", str(exc)),
        )

    def _deleted(self, mid: str) -> None:
        self.memories.pop(mid, None)
        self.details.clear("Deleted.")
        self._fill_tree()
        self.changed.emit()


class MemoriesView(QWidget):
    """Search box, Forget…, and one tab per memory type."""

    def __init__(self, svc: Any, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.runner = runner
        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 12)
        bar = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search memories (Ctrl+F)")
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search memories")
        self.debounce = QTimer(self, singleShot=True, interval=250)
        self.debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(self.debounce.start)
        bar.addWidget(self.search, 1)
        self.forget_btn = QPushButton("Forget…")
        self.forget_btn.setObjectName("Danger")
        self.forget_btn.setToolTip("Forget an app or a time range")
        self.forget_btn.clicked.connect(self.forget)
        bar.addWidget(self.forget_btn)
        lay.addLayout(bar)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.pages: dict[str, QWidget] = {}
        for t in MEMORY_TYPES:
            page: QWidget = CoreTab(svc, runner) if t == "core" else TypeTab(svc, runner, t)
            if isinstance(page, TypeTab):
                page.changed.connect(self.refresh)
            self.pages[t] = page
            self.tabs.addTab(page, TYPE_LABELS[t])
        self.tabs.currentChanged.connect(lambda _i: self.refresh())
        lay.addWidget(self.tabs, 1)
        self.status = QLabel()
        self.status.setObjectName("Muted")
        lay.addWidget(self.status)

    def show_type(self, mtype: str) -> None:
        self.tabs.setCurrentWidget(self.pages[mtype])

    def current(self) -> QWidget:
        return self.tabs.currentWidget()

    def refresh(self) -> None:
        self.current().refresh(self.search.text())

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def forget(self) -> None:
        page = self.current()
        app = at = None
        if isinstance(page, TypeTab) and page.selected_id():
            m = page.memories[page.selected_id()]
            at = m.occurred_at.astimezone()
        dlg = ForgetDialog(app, at, self)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        try:
            criteria = dlg.criteria()
        except ValueError as exc:
            QMessageBox.warning(self, "Forget", str(exc))
            return
        self.status.setText("Forgetting…")

        def done(counts: dict[str, int]) -> None:
            self.status.setText(
                f"Forgot {counts.get('memories', 0)} memories and "
                f"{counts.get('captures', 0)} captures."
            )
            self.refresh()

        self.runner.run(
            lambda: self.svc.forget(**criteria),
            done,
            lambda exc: self.status.setText(f"Forget failed: {exc}"),
        )
