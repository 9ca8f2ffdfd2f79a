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

from engram.core import heap
from engram.core.capture.activity import ActivityMonitor
from engram.core.capture.grab import DisplayUnavailable, Grabber, Shot
from engram.core.capture.masking import Rect, area, disjoint, hidden_regions, to_image
from engram.core.capture.pipeline import Frame, Perceiver
from engram.core.capture.window import (
    ScreenWindow,
    WindowInfo,
    active_window,
    visible_windows,
)
from engram.core.config import Settings
from engram.core.perceive.redact import black_out

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
        window_probe: Callable[[], WindowInfo | None] = active_window,
        layout_probe: Callable[[], list[ScreenWindow] | None] = visible_windows,
    ) -> None:
        self.perceiver = perceiver
        self.settings = settings
        self.data_dir = data_dir
        self.on_kept = on_kept
        self._grabber_factory = grabber_factory or (
            lambda: Grabber(settings.capture_monitors or None)
        )
        self._window_probe = window_probe
        self._layout_probe = layout_probe
        self._masks: list[Rect] = []  # excluded regions on screen at the last grab
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
            return self._excluded()
        try:
            shots = self._changed(self._grab(), window)
            if not shots:
                self._state = "capturing"
                return self._state
            before = self._layout_probe()
            if before is not None:
                # X11 lists the windows: grab again between two listings, so any excluded
                # window on screen at the moment of the grab is in one of them.
                wanted = {s.monitor.index for s in shots}
                shots = [s for s in self._grab() if s.monitor.index in wanted]
            after = self._layout_probe()
        except DisplayUnavailable as exc:
            self.last_error = str(exc)
            self._state = "no-display"
            return self._state
        self.last_error = None
        now = self._window_probe()
        if self.perceiver.excluded(now):
            return self._excluded()
        if _who(now) != _who(window):
            log.debug("focus moved during the grab; the frame waits for the next tick")
            self._state = "capturing"
            return self._state
        if before is not None and after is None:
            log.debug("the window list went away mid-grab; the frame waits for the next tick")
            self._state = "capturing"
            return self._state
        excluded = self.perceiver.excluded
        self._masks = disjoint(
            hidden_regions(before or [], excluded) + hidden_regions(after or [], excluded)
        )
        self._state = "capturing"
        for shot in shots:
            frame = self._frame(shot, window)
            if frame is None:
                self._excluded()  # an excluded window fills the monitor
                continue
            try:
                self._queue.put_nowait(frame)
            except queue.Full:
                log.debug("OCR busy; frame of monitor %s waits for the next tick", frame.monitor)
        return self._state

    def _grab(self) -> list[Shot]:
        if self._grabber is None:
            self._grabber = self._grabber_factory()
        return self._grabber.grab()

    def _excluded(self) -> str:
        self.perceiver.record_excluded()  # counted; never grabbed, never stored
        self._state = "excluded"
        return self._state

    def _frame(self, shot: Shot, window: WindowInfo | None) -> Frame | None:
        """The shot as a frame with the last known excluded regions blacked out.

        None when those regions cover (nearly) the whole monitor: nothing left to keep.
        """
        mon = shot.monitor
        image = shot.image
        boxes = to_image(self._masks, mon.left, mon.top, image.width, image.height)
        if boxes:
            if area(boxes) >= 0.9 * image.width * image.height:
                return None
            image = black_out(image, boxes, pad=0)
        return Frame(image=image, at=shot.at, monitor=mon.index, window=window)

    def _changed(self, shots: list[Shot], window: WindowInfo | None) -> list[Shot]:
        """The shots whose monitor changed since its last kept frame.

        While an excluded window is on screen every shot goes on to a fresh window listing:
        with stale masks a window that moved or closed could hide a change for good.
        """
        if self._masks:
            return shots
        return [
            s
            for s in shots
            if self.perceiver.screen(Frame(s.image, s.at, s.monitor.index, window)) is None
        ]

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
                del frame  # the frame's pixels, then the heap they were in
                heap.trim()
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


def _who(window: WindowInfo | None) -> tuple[str, int | None] | None:
    """The identity of a focused window; its title may change while it keeps focus."""
    return None if window is None else (window.app, window.pid)
