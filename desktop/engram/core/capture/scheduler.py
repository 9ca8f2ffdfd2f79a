"""The live capture loop: every N seconds, grab, screen, and hand changed frames to OCR.

APScheduler runs ``tick`` on its own thread (max one instance, missed runs coalesced);
OCR runs on a separate perceive thread fed through a small queue, so a slow OCR never
delays a grab. When the queue is full the newest changed frame waits for the next tick
(it is not accepted as "last kept", so its change is seen again).
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from engram.core.capture.activity import ActivityMonitor
from engram.core.capture.grab import DisplayUnavailable, Grabber
from engram.core.capture.pipeline import Frame, Perceiver
from engram.core.capture.window import active_window
from engram.core.config import Settings

log = logging.getLogger(__name__)
STATES = ("capturing", "paused", "idle", "locked", "excluded", "no-display", "disk-full", "stopped")


class CaptureLoop:
    def __init__(
        self,
        perceiver: Perceiver,
        settings: Settings,
        data_dir: object,
        *,
        on_kept: Callable[[], None] | None = None,
        grabber_factory: Callable[[], Grabber] | None = None,
        window_probe: Callable[[], object] = active_window,
    ) -> None:
        self.perceiver = perceiver
        self.settings = settings
        self.data_dir = data_dir
        self.on_kept = on_kept
        self._grabber_factory = grabber_factory or (
            lambda: Grabber(settings.capture_monitors or None)
        )
        self._window_probe = window_probe
        self.activity = ActivityMonitor(settings.idle_seconds)
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=2)
        self._scheduler = None
        self._perceive_thread: threading.Thread | None = None
        self._grabber: Grabber | None = None
        self._state = "stopped"
        self.paused_until: datetime | None = None
        self._paused_forever = False
        self.last_error: str | None = None
        self.ticks = 0
        self._lock = threading.Lock()

    # -- control -------------------------------------------------------------------------
    def start(self, *, paused: bool = False) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        if self._scheduler is not None:
            return
        self._paused_forever = paused
        self._perceive_thread = threading.Thread(
            target=self._perceive_loop, name="engram-perceive", daemon=True
        )
        self._perceive_thread.start()
        sched = BackgroundScheduler(daemon=True)
        sched.add_job(
            self.tick,
            "interval",
            seconds=self.settings.capture_interval,
            id="capture",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        sched.start()
        self._scheduler = sched
        self._state = "paused" if paused else "capturing"

    def stop(self) -> None:
        """Stop the scheduler and the perceive thread; no thread is left behind."""
        sched, self._scheduler = self._scheduler, None
        if sched is not None:
            sched.shutdown(wait=True)
        if self._perceive_thread is not None:
            self._queue.put(None)
            self._perceive_thread.join(timeout=120)
            self._perceive_thread = None
        if self._grabber is not None:
            self._grabber.close()
            self._grabber = None
        self._state = "stopped"

    def pause(self, seconds: float | None = None) -> None:
        with self._lock:
            if seconds is None:
                self._paused_forever = True
                self.paused_until = None
            else:
                self._paused_forever = False
                self.paused_until = datetime.now(UTC) + timedelta(seconds=seconds)
            self._state = "paused"

    def resume(self) -> None:
        with self._lock:
            self._paused_forever = False
            self.paused_until = None
            if self._scheduler is not None:
                self._state = "capturing"

    @property
    def paused(self) -> bool:
        if self._paused_forever:
            return True
        if self.paused_until is not None:
            if datetime.now(UTC) < self.paused_until:
                return True
            self.paused_until = None
        return False

    @property
    def state(self) -> str:
        if self._scheduler is None:
            return "stopped"
        if self.paused:
            return "paused"
        return self._state

    # -- work ----------------------------------------------------------------------------
    def tick(self) -> str:
        """One capture round; returns the state it left the loop in."""
        self.ticks += 1
        if self.paused:
            self._state = "paused"
            return self._state
        if self._disk_nearly_full():
            self._state = "disk-full"
            return self._state
        act = self.activity.state()
        if act in ("idle", "locked"):
            self._state = act
            return act
        window = self._window_probe()
        if self.perceiver.excluded(window):
            self.perceiver.record_excluded()  # counted; never grabbed, never stored
            self._state = "excluded"
            return self._state
        try:
            if self._grabber is None:
                self._grabber = self._grabber_factory()
            shots = self._grabber.grab()
        except DisplayUnavailable as exc:
            self.last_error = str(exc)
            self._state = "no-display"
            return self._state
        self.last_error = None
        for shot in shots:
            frame = Frame(image=shot.image, at=shot.at, monitor=shot.monitor.index, window=window)
            if self.perceiver.screen(frame) is not None:
                continue
            try:
                self._queue.put_nowait(frame)
            except queue.Full:
                log.debug("OCR busy; frame of monitor %s waits for the next tick", frame.monitor)
        self._state = "capturing"
        return self._state

    def _perceive_loop(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is None:
                self._queue.task_done()
                return
            try:
                verdict = self.perceiver.perceive(frame)
                if verdict.outcome == "kept" and self.on_kept:
                    self.on_kept()
            except Exception as exc:
                self.last_error = f"perceive failed: {exc}"
                log.exception("perceive failed")
            finally:
                self._queue.task_done()

    def _disk_nearly_full(self) -> bool:
        if not self.settings.min_free_gb:
            return False
        try:
            free = shutil.disk_usage(str(self.data_dir)).free
        except OSError:
            return False
        return free < self.settings.min_free_gb * 1024**3

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until the OCR queue is empty (tests, shutdown)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False
