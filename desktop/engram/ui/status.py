"""Polls the service's status every 2 s off the UI thread, and relays store changes.

The tray and the status bar both listen to one `StatusPoller`, so there is one poll, not
one per widget; a poll never overlaps the previous one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from engram.ui.ops import Runner

STATE_LABELS = {
    "capturing": "Capturing",
    "paused": "Paused",
    "idle": "Idle (not capturing)",
    "locked": "Screen locked",
    "excluded": "Excluded window (not capturing)",
    "no-display": "No display to capture",
    "stopped": "Capture off",
    "disk-full": "Disk almost full: capture stopped",
}


def state_text(state: str, paused_until: datetime | None = None) -> str:
    text = STATE_LABELS.get(state, state)
    if state == "paused":
        text = f"Paused until {paused_until.astimezone():%H:%M}" if paused_until else "Paused"
    return text


class StatusPoller(QObject):
    """Emits `updated(status, state, paused_until)` every `interval_ms`."""

    updated = Signal(dict, str, object)
    memories_changed = Signal(list)

    def __init__(self, svc: Any, runner: Runner, interval_ms: int = 2000) -> None:
        super().__init__()
        self.svc = svc
        self.runner = runner
        self.busy = False
        self.last: tuple[dict, str, Any] | None = None
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.poll)
        self._hook = self.memories_changed.emit
        svc.store.events.memory_did_change.append(self._hook)  # any thread: signal queues it

    def start(self) -> None:
        self.timer.start()
        self.poll()

    def stop(self) -> None:
        self.timer.stop()
        hooks = self.svc.store.events.memory_did_change
        if self._hook in hooks:
            hooks.remove(self._hook)

    def poll(self) -> None:
        if self.busy:
            return
        self.busy = True
        svc = self.svc

        def read() -> tuple[dict, str, Any]:
            return svc.status(), svc.capture_state(), svc.paused_until

        self.runner.run(read, self._got, self._failed, name="status")

    def _failed(self, _exc: Exception) -> None:
        self.busy = False

    def _got(self, got: tuple[dict, str, Any]) -> None:
        self.busy = False
        self.last = got
        self.updated.emit(*got)
