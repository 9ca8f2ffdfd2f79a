"""Settings: LLM provider (preset, URL, model, key in the keyring, Test connection), capture,
privacy exclusions, retention, thumbnails, data folder and export.

Values are validated by the core `Settings` model before they are saved, so a bad value
is reported next to the Save button with the field's name and nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engram.core.capture.privacy import DEFAULT_EXCLUDED_APPS
from engram.core.config import Settings
from engram.core.llm.presets import PRESETS
from engram.ui.ops import Runner

OFFLINE = "offline"


def lines(text: str) -> list[str]:
    return [s.strip() for s in text.splitlines() if s.strip()]


def parse_monitors(text: str) -> list[int]:
    """'' or 'all' = every monitor; otherwise numbers separated by commas or spaces."""
    text = text.strip().lower()
    if text in ("", "all"):
        return []
    try:
        return [int(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"monitors: {text!r} is not a list of numbers such as 1, 2") from None


class ProviderForm(QWidget):
    """Preset, base URL, model and key, with Test connection (shared with the welcome)."""

    def __init__(self, svc: Any, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.runner = runner
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.preset = QComboBox()
        self.preset.addItem("Offline (no model: rule-based memories, extractive answers)", OFFLINE)
        for p in PRESETS.values():
            self.preset.addItem(p.label, p.name)
        self.preset.setAccessibleName("Provider")
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.base_url = QLineEdit()
        self.base_url.setPlaceholderText("https://…/v1")
        self.model = QLineEdit()
        self.model.setPlaceholderText("model name")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("stored in the system keyring, never in the settings file")
        self.test_btn = QPushButton("Test connection")
        self.test_btn.clicked.connect(self.test)
        self.result = QLabel()
        self.result.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.test_btn)
        row.addWidget(self.result, 1)
        form.addRow("Provider", self.preset)
        form.addRow("Base URL", self.base_url)
        form.addRow("Model", self.model)
        form.addRow("API key", self.key)
        form.addRow("", row)

    def load(self, s: Settings, key: str | None) -> None:
        name = s.llm_preset if s.llm_configured else OFFLINE
        idx = self.preset.findData(name)
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(max(0, idx))
        self.preset.blockSignals(False)
        self.base_url.setText(s.llm_base_url or "")
        self.model.setText(s.llm_model or "")
        self.key.setText(key or "")
        self._enable()

    def _enable(self) -> None:
        online = self.preset.currentData() != OFFLINE
        for w in (self.base_url, self.model, self.key, self.test_btn):
            w.setEnabled(online)

    def _preset_changed(self) -> None:
        name = self.preset.currentData()
        if name in PRESETS:
            p = PRESETS[name]
            if p.base_url or name == "custom":
                self.base_url.setText(p.base_url)
            self.model.setText(p.model)
            self.key.setPlaceholderText(
                "required by this provider" if p.needs_key else "optional for this provider"
            )
        self.result.setText("")
        self._enable()

    def values(self) -> dict[str, Any]:
        name = self.preset.currentData()
        if name == OFFLINE:
            return {"llm_preset": "custom", "llm_base_url": None, "llm_model": None}
        return {
            "llm_preset": name,
            "llm_base_url": self.base_url.text().strip() or None,
            "llm_model": self.model.text().strip() or None,
        }

    def test(self) -> None:
        url, model = self.base_url.text().strip(), self.model.text().strip()
        if not url:
            self.result.setText("<span style='color:#d0485a'>Enter a base URL first.</span>")
            return
        self.test_btn.setEnabled(False)
        self.result.setText("Testing…")
        key = self.key.text().strip() or None
        self.runner.run(lambda: self.svc.test_llm(url, model, key), self._tested, self._test_failed)

    def _tested(self, res: tuple[bool, str]) -> None:
        ok, msg = res
        self.test_btn.setEnabled(True)
        colour = "#2fa36b" if ok else "#d0485a"
        self.result.setText(f"<span style='color:{colour}'>{'✓' if ok else '✗'} {msg}</span>")

    def _test_failed(self, exc: Exception) -> None:
        self._tested((False, str(exc)))


class SettingsView(QScrollArea):
    """All settings on one scrolling page; Save validates, writes config.toml and the key."""

    def __init__(self, svc: Any, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.svc = svc
        self.runner = runner
        self.setWidgetResizable(True)
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(24, 16, 24, 16)
        outer.setSpacing(6)
        head = QLabel("Settings")
        head.setObjectName("Heading")
        outer.addWidget(head)

        llm = QGroupBox("Language model")
        lv = QVBoxLayout(llm)
        self.provider = ProviderForm(svc, runner)
        lv.addWidget(self.provider)

        cap = QGroupBox("Capture")
        cf = QFormLayout(cap)
        self.interval = QDoubleSpinBox()
        self.interval.setRange(0.2, 3600)
        self.interval.setSuffix(" s")
        self.interval.setDecimals(1)
        self.monitors = QLineEdit()
        self.monitors.setPlaceholderText("all monitors (or e.g. 1, 2)")
        self.idle = QSpinBox()
        self.idle.setRange(5, 86400)
        self.idle.setSuffix(" s")
        self.thumbs = QCheckBox("Keep small encrypted thumbnails of captures (for the timeline)")
        for w in (self.interval, self.idle, self.monitors):
            w.setMaximumWidth(220)
        cf.addRow("Interval", self.interval)
        cf.addRow("Monitors", self.monitors)
        cf.addRow("Pause when idle for", self.idle)
        cf.addRow("", self.thumbs)

        priv = QGroupBox("Privacy")
        pg = QGridLayout(priv)
        self.apps = QPlainTextEdit()
        self.apps.setPlaceholderText("one app per line")
        self.apps.setFixedHeight(110)
        self.titles = QPlainTextEdit()
        self.titles.setPlaceholderText("one regular expression per line, e.g. (?i)bank")
        self.titles.setFixedHeight(110)
        self.private = QCheckBox("Never capture private / incognito browser windows")
        pg.addWidget(QLabel("Never capture these apps"), 0, 0)
        pg.addWidget(QLabel("…or windows whose title matches"), 0, 1)
        pg.addWidget(self.apps, 1, 0)
        pg.addWidget(self.titles, 1, 1)
        pg.addWidget(self.private, 2, 0, 1, 2)

        ret = QGroupBox("Storage")
        rf = QFormLayout(ret)
        self.days = QSpinBox()
        self.days.setRange(0, 36500)
        self.days.setSpecialValueText("forever")
        self.days.setSuffix(" days")
        self.gb = QDoubleSpinBox()
        self.gb.setRange(0, 10_000)
        self.gb.setSpecialValueText("no limit")
        self.gb.setSuffix(" GB")
        folder = QHBoxLayout()
        self.folder = QLabel(str(svc.paths.data))
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_btn = QPushButton("Open folder")
        open_btn.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(svc.paths.data)))
        )
        self.export_btn = QPushButton("Export memories…")
        self.export_btn.clicked.connect(self.export)
        folder.addWidget(self.folder, 1)
        folder.addWidget(open_btn)
        folder.addWidget(self.export_btn)
        for w in (self.days, self.gb):
            w.setMaximumWidth(220)
        rf.addRow("Keep captures for", self.days)
        rf.addRow("Disk budget", self.gb)
        rf.addRow("Data folder", folder)

        for g in (llm, cap, priv, ret):
            outer.addWidget(g)
        bottom = QHBoxLayout()
        self.status = QLabel()
        self.status.setWordWrap(True)
        bottom.addWidget(self.status, 1)
        self.revert_btn = QPushButton("Revert")
        self.revert_btn.clicked.connect(self.load)
        self.save_btn = QPushButton("Save")
        self.save_btn.setObjectName("Primary")
        self.save_btn.setDefault(True)
        self.save_btn.clicked.connect(self.save)
        bottom.addWidget(self.revert_btn)
        bottom.addWidget(self.save_btn)
        outer.addLayout(bottom)
        outer.addStretch(1)
        self.setWidget(page)
        self.load()

    def load(self) -> None:
        s: Settings = self.svc.settings
        self.provider.load(s, None)
        self.runner.run(self.svc.api_key, lambda k: self.provider.key.setText(k or ""))
        self.interval.setValue(s.capture_interval)
        self.monitors.setText(", ".join(str(m) for m in s.capture_monitors))
        self.idle.setValue(int(s.idle_seconds))
        self.thumbs.setChecked(s.thumbnails)
        apps = s.excluded_apps if s.excluded_apps is not None else list(DEFAULT_EXCLUDED_APPS)
        self.apps.setPlainText("\n".join(apps))
        self.titles.setPlainText("\n".join(s.excluded_title_patterns))
        self.private.setChecked(s.exclude_private_windows)
        self.days.setValue(s.retention_days)
        self.gb.setValue(s.retention_gb)
        self.status.setText("")

    def collect(self) -> Settings:
        """The edited settings, validated (ValueError / ValidationError name the field)."""
        apps = lines(self.apps.toPlainText())
        update: dict[str, Any] = {
            **self.provider.values(),
            "capture_interval": self.interval.value(),
            "capture_monitors": parse_monitors(self.monitors.text()),
            "idle_seconds": float(self.idle.value()),
            "thumbnails": self.thumbs.isChecked(),
            "excluded_apps": None if apps == list(DEFAULT_EXCLUDED_APPS) else apps,
            "excluded_title_patterns": lines(self.titles.toPlainText()),
            "exclude_private_windows": self.private.isChecked(),
            "retention_days": self.days.value(),
            "retention_gb": self.gb.value(),
        }
        data = self.svc.settings.model_dump()
        data.update(update)
        return Settings.model_validate(data)

    def save(self) -> None:
        try:
            new = self.collect()
        except ValidationError as exc:
            msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            self._say(False, f"Not saved: {msg}")
            return
        except ValueError as exc:
            self._say(False, f"Not saved: {exc}")
            return
        key = self.provider.key.text().strip() or None
        online = new.llm_configured
        self.save_btn.setEnabled(False)
        self.status.setText("Saving…")

        def write() -> None:
            self.svc.save_settings(new)
            if online or key is None:
                self.svc.set_api_key(key)

        self.runner.run(write, lambda _r: self._say(True, "Saved."), self._save_failed)

    def _save_failed(self, exc: Exception) -> None:
        self._say(False, f"Not saved: {exc}")

    def _say(self, ok: bool, text: str) -> None:
        self.save_btn.setEnabled(True)
        colour = "#2fa36b" if ok else "#d0485a"
        self.status.setText(f"<span style='color:{colour}'>{text}</span>")

    def export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export memories", str(Path.home() / "engram-export.json"), "JSON (*.json)"
        )
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        self.status.setText("Exporting…")

        def write() -> int:
            data = self.svc.export()
            path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
            return sum(len(v) for v in data.values() if isinstance(v, list))

        self.runner.run(
            write,
            lambda n: self._say(True, f"Exported {n} memories to {path}"),
            lambda exc: self._say(False, f"Export failed: {exc}"),
        )
