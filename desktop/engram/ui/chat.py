"""Chat: a conversation with streamed answers, citation chips, copy, new chat and history.

`ChatPanel` is the conversation itself (also used by the tray's quick-ask popup);
`ChatView` adds the list of saved chats, which the service keeps encrypted in the ledger.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engram.ui.details import MemoryDialog, heading, local_time
from engram.ui.ops import Runner
from engram.ui.theme import icon

CITE = re.compile(r"\[((?:[a-z]{2}_[0-9a-f]{12})(?:\s*[,;]\s*[a-z]{2}_[0-9a-f]{12})*)\]")
CITE_ID = re.compile(r"[a-z]{2}_[0-9a-f]{12}")
SUGGESTIONS = (
    "What was I working on yesterday afternoon?",
    "Which tickets did I look at this week?",
    "What did we decide in the last meeting?",
)


def cited_ids(text: str) -> list[str]:
    """Memory ids cited in an answer's text, in first-seen order."""
    seen: dict[str, None] = {}
    for group in CITE.findall(text):
        for mid in CITE_ID.findall(group):
            seen.setdefault(mid, None)
    return list(seen)


def answer_html(text: str, order: list[str]) -> str:
    """Escape the text and turn `[ep_…]` citations into numbered links (`mem:<id>`)."""

    def link(match: re.Match[str]) -> str:
        parts = []
        for mid in CITE_ID.findall(match.group(1)):
            n = order.index(mid) + 1 if mid in order else "?"
            parts.append(f"<a href='mem:{mid}' style='text-decoration:none'><sup>[{n}]</sup></a>")
        return "".join(parts)

    out = []
    pos = 0
    for m in CITE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        out.append(link(m))
        pos = m.end()
    out.append(html.escape(text[pos:]))
    body = "".join(out).strip()
    body = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", body)
    return body.replace("\n", "<br>")


class Bubble(QFrame):
    """One message. Assistant bubbles grow while streaming, then get chips and a copy button."""

    open_memory = Signal(str)

    def __init__(self, role: str, text: str = "", chip_chars: int = 90) -> None:
        super().__init__()
        self.role = role
        self.chip_chars = chip_chars
        self.text = text
        self.setObjectName("BubbleUser" if role == "user" else "Bubble")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 10)
        lay.setSpacing(8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.label.linkActivated.connect(self._link)
        lay.addWidget(self.label)
        self.chips = QVBoxLayout()
        self.chips.setSpacing(4)
        lay.addLayout(self.chips)
        self.footer = QHBoxLayout()
        lay.addLayout(self.footer)
        self.chip_buttons: list[QPushButton] = []
        self.set_text(text)

    def _link(self, href: str) -> None:
        if href.startswith("mem:"):
            self.open_memory.emit(href[4:])

    def set_text(self, text: str, order: list[str] | None = None) -> None:
        self.text = text
        if self.role == "user":
            self.label.setText(html.escape(text).replace("\n", "<br>"))
        else:
            self.label.setText(answer_html(text, order or cited_ids(text)) or "<i>…</i>")

    def finish(self, citations: list[str], titles: dict[str, str], generated: bool) -> None:
        order = [c for c in cited_ids(self.text) if c in citations] or list(citations)
        order += [c for c in citations if c not in order]
        self.set_text(self.text, order)
        for n, mid in enumerate(order, 1):
            title = titles.get(mid, mid)
            cut = self.chip_chars
            btn = QPushButton(f"{n}  {title[:cut]}{'…' if len(title) > cut else ''}")
            btn.setObjectName("Chip")
            btn.setToolTip(f"Open memory {mid}")
            btn.setCursor(Qt.CursorShape.PointingHandCursor)
            btn.setProperty("memory_id", mid)
            btn.clicked.connect(lambda _=False, m=mid: self.open_memory.emit(m))
            self.chips.addWidget(btn, 0, Qt.AlignmentFlag.AlignLeft)
            self.chip_buttons.append(btn)
        if not generated and "not generated" not in self.text:
            note = QLabel("Retrieved from your memories, not generated (offline mode)")
            note.setObjectName("Muted")
            self.footer.addWidget(note)
        self.footer.addStretch(1)
        copy = QToolButton()
        copy.setIcon(icon("copy"))
        copy.setToolTip("Copy answer")
        copy.setAutoRaise(True)
        copy.clicked.connect(self.copy)
        self.footer.addWidget(copy)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(CITE.sub("", self.text).strip())


class ChatPanel(QWidget):
    """The conversation: transcript, input, streaming. Emits `answered` after each answer."""

    answered = Signal()

    def __init__(
        self, svc: Any, runner: Runner, compact: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.svc = svc
        self.runner = runner
        self.compact = compact
        self.messages: list[dict[str, Any]] = []
        self.streaming = False
        self.bubbles: list[Bubble] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setObjectName("Transcript")
        inner = QWidget()
        inner.setObjectName("Transcript")
        self.column = QVBoxLayout(inner)
        m = 10 if compact else 24
        self.column.setContentsMargins(m, m, m, m)
        self.column.setSpacing(12)
        self.empty = self._empty_state()
        self.column.addWidget(self.empty)
        self.column.addStretch(1)
        self.scroll.setWidget(inner)
        lay.addWidget(self.scroll, 1)
        row = QHBoxLayout()
        row.setContentsMargins(m, 0, m, m)
        self.input = QLineEdit()
        self.input.setPlaceholderText("Ask about anything you saw or said…")
        self.input.setAccessibleName("Question")
        self.input.returnPressed.connect(self.send)
        self.send_btn = QPushButton(icon("send", "#ffffff"), " Ask")
        self.send_btn.setObjectName("Primary")
        self.send_btn.clicked.connect(self.send)
        row.addWidget(self.input, 1)
        row.addWidget(self.send_btn)
        lay.addLayout(row)
        self.scroll.verticalScrollBar().rangeChanged.connect(self._stick_to_bottom)

    def _empty_state(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0 if self.compact else 40, 0, 0)
        head = QLabel("Ask your memory")
        head.setObjectName("Heading")
        v.addWidget(head, 0, Qt.AlignmentFlag.AlignHCenter)
        sub = QLabel("Answers come from what Engram captured on this computer, with sources.")
        sub.setObjectName("Muted")
        sub.setWordWrap(True)
        sub.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        v.addWidget(sub)
        if not self.compact:
            for s in SUGGESTIONS:
                b = QPushButton(s)
                b.setObjectName("Chip")
                b.clicked.connect(lambda _=False, q=s: self.ask(q))
                v.addWidget(b, 0, Qt.AlignmentFlag.AlignHCenter)
        return w

    def _stick_to_bottom(self, _lo: int, hi: int) -> None:
        self.scroll.verticalScrollBar().setValue(hi)

    def _add_bubble(self, role: str, text: str = "") -> Bubble:
        self.empty.hide()
        b = Bubble(role, text, chip_chars=44 if self.compact else 90)
        b.open_memory.connect(self.open_memory)
        row = QHBoxLayout()
        if role == "user":
            widest = 520 if not self.compact else 300
            natural = b.label.fontMetrics().horizontalAdvance(text) + 8
            b.label.setMinimumWidth(min(natural, widest - 28))
            b.setMaximumWidth(widest)
            row.addStretch(1)
            row.addWidget(b, 0)
        else:
            row.addWidget(b, 1)
        self.column.insertLayout(self.column.count() - 1, row)
        self.bubbles.append(b)
        return b

    def open_memory(self, mid: str) -> None:
        dlg = MemoryDialog(self.svc, self.runner, mid, self.window())
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        self.last_dialog = dlg

    def clear(self) -> None:
        self.messages = []
        self.bubbles = []
        while self.column.count() > 2:
            item = self.column.takeAt(1)
            lay = item.layout()
            if lay is not None:
                while lay.count():
                    w = lay.takeAt(0).widget()
                    if w is not None:
                        w.deleteLater()
        self.empty.show()

    def load(self, messages: list[dict[str, Any]]) -> None:
        self.clear()
        self.messages = list(messages)
        for msg in messages:
            b = self._add_bubble(msg.get("role", "user"), msg.get("content", ""))
            if b.role == "assistant":
                b.finish(
                    list(msg.get("citations") or []),
                    dict(msg.get("titles") or {}),
                    bool(msg.get("generated", True)),
                )

    def send(self) -> None:
        self.ask(self.input.text())

    def ask(self, question: str) -> None:
        question = question.strip()
        if not question or self.streaming:
            return
        self.input.clear()
        history = [{"role": m["role"], "content": m["content"]} for m in self.messages]
        self.messages.append({"role": "user", "content": question})
        self._add_bubble("user", question)
        bubble = self._add_bubble("assistant", "")
        self._set_busy(True)
        svc = self.svc

        def stream(emit: Any) -> None:
            for event in svc.ask_stream(question, history=history):
                emit(event)

        self.runner.run(
            stream,
            on_success=lambda _r: self._set_busy(False),
            on_failure=lambda exc: self._failed(bubble, exc),
            on_progress=lambda ev: self._event(bubble, ev),
            name="ask",
        )

    def _set_busy(self, busy: bool) -> None:
        self.streaming = busy
        self.input.setEnabled(not busy)
        self.send_btn.setEnabled(not busy)
        if not busy:
            self.input.setFocus()

    def _event(self, bubble: Bubble, event: tuple[str, Any]) -> None:
        kind, value = event
        if kind == "delta":
            bubble.set_text(bubble.text + value)
        elif kind == "done":
            answer = value
            titles = {h.memory.id: heading(h.memory) for h in answer.memories}
            bubble.set_text(answer.text)
            bubble.finish(list(answer.citations), titles, bool(answer.generated))
            self.messages.append(
                {
                    "role": "assistant",
                    "content": answer.text,
                    "citations": list(answer.citations),
                    "titles": {c: titles.get(c, c) for c in answer.citations},
                    "generated": bool(answer.generated),
                }
            )
            self.answered.emit()

    def _failed(self, bubble: Bubble, exc: Exception) -> None:
        self._set_busy(False)
        bubble.set_text(f"Could not answer: {exc}")
        bubble.setStyleSheet("QLabel { color: #d0485a; }")


class ChatView(QWidget):
    """Chat history on the left, the current conversation on the right."""

    def __init__(self, svc: Any, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.runner = runner
        self.chat_id: str | None = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        split = QSplitter()
        side = QWidget()
        sv = QVBoxLayout(side)
        sv.setContentsMargins(12, 12, 6, 12)
        self.new_btn = QPushButton(icon("plus"), " New chat")
        self.new_btn.setToolTip("New chat (Ctrl+N)")
        self.new_btn.clicked.connect(self.new_chat)
        sv.addWidget(self.new_btn)
        self.history = QListWidget()
        self.history.setAccessibleName("Chat history")
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.history.itemActivated.connect(self._open_item)
        self.history.itemClicked.connect(self._open_item)
        self.history.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        sv.addWidget(self.history, 1)
        self.delete_btn = QPushButton(icon("trash"), " Delete chat")
        self.delete_btn.setObjectName("Danger")
        self.delete_btn.clicked.connect(self.delete_selected)
        sv.addWidget(self.delete_btn)
        self.panel = ChatPanel(svc, runner)
        self.panel.answered.connect(self._save)
        split.addWidget(side)
        split.addWidget(self.panel)
        split.setStretchFactor(1, 1)
        split.setSizes([230, 800])
        lay.addWidget(split)
        QTimer.singleShot(0, self.refresh)

    def focus_input(self) -> None:
        self.panel.input.setFocus()

    def new_chat(self) -> None:
        self.chat_id = None
        self.panel.clear()
        self.history.clearSelection()
        self.focus_input()

    def refresh(self) -> None:
        self.runner.run(self.svc.list_chats, self._fill, name="list_chats")

    def _fill(self, chats: list[dict[str, Any]]) -> None:
        self.history.clear()
        for c in chats:
            item = QListWidgetItem(c.get("title") or "Untitled chat")
            at = c.get("updated_at")
            if at is not None and hasattr(at, "astimezone"):
                item.setToolTip(local_time(at))
            item.setData(Qt.ItemDataRole.UserRole, c["id"])
            self.history.addItem(item)
            if c["id"] == self.chat_id:
                item.setSelected(True)

    def _open_item(self, item: QListWidgetItem) -> None:
        cid = item.data(Qt.ItemDataRole.UserRole)
        if cid == self.chat_id or self.panel.streaming:
            return
        self.chat_id = cid
        self.runner.run(lambda: self.svc.load_chat(cid), self.panel.load, name="load_chat")

    def _save(self) -> None:
        msgs = list(self.panel.messages)
        first = next((m["content"] for m in msgs if m["role"] == "user"), "Chat")
        title = first if len(first) <= 60 else first[:57] + "…"
        cid = self.chat_id
        self.runner.run(lambda: self.svc.save_chat(cid, title, msgs), self._saved, name="save_chat")

    def _saved(self, cid: str) -> None:
        self.chat_id = cid
        self.refresh()

    def delete_selected(self) -> None:
        item = self.history.currentItem()
        if item is None:
            return
        cid = item.data(Qt.ItemDataRole.UserRole)
        if (
            QMessageBox.question(self, "Delete chat", f"Delete “{item.text()}”?")
            != QMessageBox.StandardButton.Yes
        ):
            return
        if cid == self.chat_id:
            self.new_chat()
        self.runner.run(lambda: self.svc.delete_chat(cid), lambda _r: self.refresh())
