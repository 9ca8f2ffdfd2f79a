"""Operation objects: run a slow service call on a worker thread, report on the main thread.

Every call that may touch the disk, the embedder or an LLM goes through `Runner.run`, so
the window never freezes. Results travel back by a queued signal to a relay object that
lives on the main thread; a callback whose widget has gone away is dropped quietly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)
Callback = Callable[[Any], None] | None


class _Relay(QObject):
    """Lives on the main thread; its slots run the callbacks there."""

    success = Signal(object, object)
    failure = Signal(object, object)
    progress = Signal(object, object)
    finished = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        for sig in (self.success, self.failure, self.progress):
            sig.connect(self._call)
        self.finished.connect(self._done)
        self.on_done: Callable[[Op], None] | None = None

    @Slot(object, object)
    def _call(self, fn: Callable[[Any], None], value: Any) -> None:
        try:
            fn(value)
        except RuntimeError as exc:  # the widget behind the callback was deleted
            if "already deleted" not in str(exc):
                raise
            log.debug("dropped a callback for a deleted widget: %s", exc)

    @Slot(object)
    def _done(self, op: Op) -> None:
        if self.on_done:
            self.on_done(op)


class Op(QRunnable):
    """`fn()` (or `fn(emit)` when `on_progress` is given) run off the UI thread.

    `on_success(result)`, `on_failure(exception)` and `on_progress(item)` run on the main
    thread. `cancel()` drops any callback that has not run yet.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        on_success: Callback = None,
        on_failure: Callback = None,
        on_progress: Callback = None,
        name: str = "",
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.on_success = on_success
        self.on_failure = on_failure
        self.on_progress = on_progress
        self.name = name or getattr(fn, "__name__", "op")
        self.cancelled = threading.Event()
        self.relay: _Relay | None = None

    def cancel(self) -> None:
        self.cancelled.set()

    def _emit(self, sig: Signal, fn: Callback, value: Any) -> None:
        if fn is not None and not self.cancelled.is_set():
            sig.emit(fn, value)

    def run(self) -> None:  # worker thread
        relay = self.relay
        assert relay is not None, "start an Op through Runner.run"
        try:
            if self.on_progress is not None:
                result = self.fn(lambda item: self._emit(relay.progress, self.on_progress, item))
            else:
                result = self.fn()
        except Exception as exc:
            if self.on_failure is None:
                log.warning("operation %s failed: %s", self.name, exc)
            self._emit(relay.failure, self.on_failure, exc)
        else:
            self._emit(relay.success, self.on_success, result)
        finally:
            relay.finished.emit(self)


class Runner(QObject):
    """Owns the worker pool and keeps running operations alive until they report."""

    idle = Signal()

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.relay = _Relay()
        self.relay.on_done = self._finished
        self.running: set[Op] = set()

    def run(
        self,
        fn: Callable[..., Any],
        on_success: Callback = None,
        on_failure: Callback = None,
        on_progress: Callback = None,
        name: str = "",
    ) -> Op:
        op = Op(fn, on_success, on_failure, on_progress, name)
        return self.start(op)

    def start(self, op: Op) -> Op:
        op.relay = self.relay
        self.running.add(op)
        self.pool.start(op)
        return op

    def _finished(self, op: Op) -> None:
        self.running.discard(op)
        if not self.running:
            self.idle.emit()

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        for op in list(self.running):
            op.cancel()
        self.pool.waitForDone(timeout_ms)
