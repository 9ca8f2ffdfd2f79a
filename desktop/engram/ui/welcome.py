"""First run: what Engram captures, where it is kept, how it is encrypted; then a model (or
offline) and the privacy exclusions. A passphrase is asked before the store opens, and only
when no keyring exists (`PassphraseDialog`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engram.core.capture.privacy import DEFAULT_EXCLUDED_APPS
from engram.core.config import Settings
from engram.ui.details import short_path
from engram.ui.ops import Runner
from engram.ui.settings import ProviderForm, lines
from engram.ui.theme import svg_pixmap

MIN_PASSPHRASE = 8


def _text(html: str) -> QLabel:
    lab = QLabel(html)
    lab.setWordWrap(True)
    lab.setTextFormat(Qt.TextFormat.RichText)
    return lab


def _header(title: str, subtitle: str) -> QWidget:
    w = QWidget()
    row = QHBoxLayout(w)
    row.setContentsMargins(0, 0, 0, 8)
    logo = QLabel()
    logo.setPixmap(svg_pixmap("engram", 48))
    row.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
    col = QVBoxLayout()
    head = QLabel(title)
    head.setObjectName("Heading")
    sub = QLabel(subtitle)
    sub.setObjectName("Muted")
    sub.setWordWrap(True)
    col.addWidget(head)
    col.addWidget(sub)
    row.addLayout(col, 1)
    return w


class WelcomeDialog(QDialog):
    """Three short steps; `result_settings()` and `api_key()` hold the choices."""

    def __init__(self, svc: Any, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.setWindowTitle("Welcome to Engram")
        self.resize(640, 500)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(28, 24, 28, 20)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack, 1)
        s: Settings = svc.settings
        key = svc.key_source()
        where = short_path(svc.paths.data)
        keytext = (
            "a random 256-bit key kept in your system keyring"
            if key == "keyring"
            else "a random 256-bit key wrapped with your passphrase (scrypt)"
        )
        intro = QWidget()
        iv = QVBoxLayout(intro)
        iv.setContentsMargins(0, 0, 0, 0)
        iv.addWidget(
            _header(
                "Welcome to Engram", "Your memory of what you saw and said, kept on this computer."
            )
        )
        iv.addWidget(
            _text(
                f"<p><b>What is captured.</b> Every {s.capture_interval:g} s while you work, "
                "Engram takes a screenshot, reads its text (OCR) and notes the app and window "
                "title. Screenshots themselves are not kept unless you turn on thumbnails. "
                "Nothing is captured while you are idle, the screen is locked, capture is "
                "paused, or an excluded app or a private browser window is in front. Card "
                "numbers, API keys, passwords and similar secrets are redacted before text is "
                "stored.</p>"
                f"<p><b>Where it is stored.</b> In <code>{where}</code>, on this computer "
                "only. Engram sends nothing anywhere unless you connect a language model, and "
                "then only the text needed to build memories and answer you.</p>"
                f"<p><b>How it is encrypted.</b> One SQLCipher database (AES-256) under "
                f"{keytext}. Secrets in the Knowledge Vault are sealed a second time and never "
                "sent to a model. The search index holds numbers only, no text.</p>"
            )
        )
        iv.addStretch(1)
        model = QWidget()
        mv = QVBoxLayout(model)
        mv.setContentsMargins(0, 0, 0, 0)
        mv.addWidget(_header("Choose a model", "Optional: Engram works offline without one."))
        mv.addWidget(
            _text(
                "Offline, memories are built by rules and answers are passages from your "
                "memories. Any OpenAI-compatible server makes both better: a local one "
                "(Ollama, LM Studio, llama.cpp, vLLM) keeps everything on this computer."
            )
        )
        self.provider = ProviderForm(svc, runner)
        self.provider.load(s, None)
        mv.addWidget(self.provider)
        mv.addStretch(1)
        privacy = QWidget()
        pv = QVBoxLayout(privacy)
        pv.setContentsMargins(0, 0, 0, 0)
        pv.addWidget(_header("Privacy", "Apps and windows Engram must never capture."))
        form = QFormLayout()
        self.apps = QPlainTextEdit(
            "\n".join(s.excluded_apps if s.excluded_apps is not None else DEFAULT_EXCLUDED_APPS)
        )
        self.titles = QPlainTextEdit("\n".join(s.excluded_title_patterns))
        self.titles.setPlaceholderText("e.g. (?i)online banking")
        self.titles.setFixedHeight(70)
        self.private = QCheckBox("Never capture private / incognito browser windows")
        self.private.setChecked(s.exclude_private_windows)
        self.thumbs = QCheckBox("Keep small encrypted thumbnails for the timeline")
        self.thumbs.setChecked(s.thumbnails)
        form.addRow("Apps", self.apps)
        form.addRow("Window titles", self.titles)
        form.addRow("", self.private)
        form.addRow("", self.thumbs)
        pv.addLayout(form)
        for page in (intro, model, privacy):
            self.stack.addWidget(page)
        buttons = QHBoxLayout()
        self.step = QLabel()
        self.step.setObjectName("Muted")
        buttons.addWidget(self.step, 1)
        self.back = QPushButton("Back")
        self.back.clicked.connect(lambda: self.go(-1))
        self.next = QPushButton("Next")
        self.next.setObjectName("Primary")
        self.next.setDefault(True)
        self.next.clicked.connect(lambda: self.go(1))
        buttons.addWidget(self.back)
        buttons.addWidget(self.next)
        lay.addLayout(buttons)
        self.go(0)

    def go(self, delta: int) -> None:
        n = self.stack.currentIndex() + delta
        if n >= self.stack.count():
            self.accept()
            return
        self.stack.setCurrentIndex(max(0, n))
        last = self.stack.currentIndex() == self.stack.count() - 1
        self.back.setEnabled(self.stack.currentIndex() > 0)
        self.next.setText("Start Engram" if last else "Next")
        self.step.setText(f"Step {self.stack.currentIndex() + 1} of {self.stack.count()}")

    def result_settings(self) -> Settings:
        apps = lines(self.apps.toPlainText())
        data = self.svc.settings.model_dump()
        data.update(self.provider.values())
        data.update(
            excluded_apps=None if apps == list(DEFAULT_EXCLUDED_APPS) else apps,
            excluded_title_patterns=lines(self.titles.toPlainText()),
            exclude_private_windows=self.private.isChecked(),
            thumbnails=self.thumbs.isChecked(),
        )
        return Settings.model_validate(data)

    def api_key(self) -> str | None:
        return self.provider.key.text().strip() or None


class PassphraseDialog(QDialog):
    """Asks for the store passphrase (twice when creating it)."""

    def __init__(self, create: bool, error: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.create = create
        self.setWindowTitle("Engram passphrase")
        self.resize(520, 0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 18)
        if create:
            lay.addWidget(
                _header(
                    "Protect your memories",
                    "No system keyring was found, so your store is locked with a passphrase.",
                )
            )
            lay.addWidget(
                _text(
                    "Engram encrypts everything it keeps. Choose a passphrase you will "
                    "remember: it cannot be recovered, and without it the store cannot be "
                    "opened. You will be asked for it each time Engram starts."
                )
            )
        else:
            lay.addWidget(_header("Unlock Engram", "Enter the passphrase of your store."))
        form = QFormLayout()
        self.first = QLineEdit()
        self.first.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Passphrase", self.first)
        self.second = QLineEdit()
        self.second.setEchoMode(QLineEdit.EchoMode.Password)
        if create:
            form.addRow("Repeat", self.second)
        lay.addLayout(form)
        self.error = QLabel(error)
        self.error.setStyleSheet("color: #d0485a")
        lay.addWidget(self.error)
        row = QHBoxLayout()
        row.addStretch(1)
        cancel = QPushButton("Quit")
        cancel.clicked.connect(self.reject)
        ok = QPushButton("Create store" if create else "Unlock")
        ok.setObjectName("Primary")
        ok.setDefault(True)
        ok.clicked.connect(self._check)
        row.addWidget(cancel)
        row.addWidget(ok)
        lay.addLayout(row)

    def _check(self) -> None:
        p = self.first.text()
        if self.create and len(p) < MIN_PASSPHRASE:
            self.error.setText(f"Use at least {MIN_PASSPHRASE} characters.")
        elif self.create and p != self.second.text():
            self.error.setText("The two passphrases differ.")
        elif not p:
            self.error.setText("Enter the passphrase.")
        else:
            self.accept()

    def passphrase(self) -> str:
        return self.first.text()
