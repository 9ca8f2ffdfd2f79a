"""From a frame to a stored capture: privacy, change detection, OCR, redaction, inbox.

Live capture and ``engram ingest`` both go through ``Perceiver``, so exclusions and
redaction are the same code for both. The order matters for privacy: the exclusion check
runs first, so an excluded frame is counted and dropped before anything looks at its
pixels; redaction runs before anything is written or sent.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

from engram.core.capture.change import ChangeDetector
from engram.core.capture.privacy import PrivacyRules
from engram.core.capture.window import WindowInfo
from engram.core.config import Settings
from engram.core.memory.inbox import Inbox, NewCapture
from engram.core.perceive.ocr import OcrResult, ocr_regions
from engram.core.perceive.redact import black_out, redact, spans_to_boxes

log = logging.getLogger(__name__)
THUMB_WIDTH = 640


@dataclass
class Frame:
    """One monitor's image with the context it was seen in."""

    image: Image.Image
    at: datetime
    monitor: int = 0
    window: WindowInfo | None = None
    uid: str | None = None  # ingest: a stable id so a re-run adds nothing twice
    origin: str = "live"


@dataclass
class Verdict:
    outcome: str  # "excluded" | "duplicate" | "kept" | "known"
    reason: str | None = None
    uid: str | None = None
    redactions: dict[str, int] | None = None


def rules_from(settings: Settings) -> PrivacyRules:
    return PrivacyRules.from_settings(
        settings.excluded_apps,
        settings.excluded_title_patterns,
        settings.exclude_private_windows,
    )


class Perceiver:
    """Turns frames into stored, redacted captures. Thread-safe: one lock per call."""

    def __init__(self, inbox: Inbox, settings: Settings) -> None:
        self.inbox = inbox
        self.settings = settings
        self.rules = rules_from(settings)
        self.detector = ChangeDetector(threshold=settings.change_threshold)
        self._last_ocr: dict[int, OcrResult] = {}
        self._lock = threading.Lock()

    def excluded(self, window: WindowInfo | None) -> str | None:
        """The reason a window must not be captured, or None (Engram's own windows too)."""
        if window is not None and window.pid is not None and window.pid == os.getpid():
            return "self"
        return self.rules.check(window)

    def record_excluded(self) -> None:
        self.inbox.count("captures_seen", "captures_excluded")

    def _duplicate(self) -> Verdict:
        self.inbox.count("captures_seen", "captures_duplicate")
        return Verdict("duplicate")

    def screen(self, frame: Frame) -> Verdict | None:
        """Cheap checks on the capture thread: exclusion, then change detection.

        Returns a final verdict (excluded / duplicate), or None when the frame should be
        perceived (OCR'd) by ``perceive``.
        """
        reason = self.excluded(frame.window)
        if reason:
            self.record_excluded()
            return Verdict("excluded", reason)
        with self._lock:
            change = self.detector.check(frame.monitor, frame.image)
        return None if change.changed else self._duplicate()

    def perceive(self, frame: Frame) -> Verdict:
        """OCR (only the changed regions when possible), redact, store. Slow: off-thread."""
        with self._lock:
            change = self.detector.check(frame.monitor, frame.image)
            if not change.changed:
                return self._duplicate()
            previous = self._last_ocr.get(frame.monitor)
            boxes = change.boxes
        result = ocr_regions(frame.image, boxes, previous, lang=self.settings.ocr_lang)
        red = redact(result.text)
        secret_boxes = spans_to_boxes(red.findings, result.words) if red.findings else []
        words = [
            {
                "t": "[REDACTED]" if _overlaps(w, red.findings) else w.text,
                "b": [w.left, w.top, w.width, w.height],
            }
            for w in result.words
        ]
        thumb = self._thumbnail(frame.image, secret_boxes) if self.settings.thumbnails else None
        win = frame.window
        uid, added = self.inbox.add_capture(
            NewCapture(
                at=frame.at,
                monitor=frame.monitor,
                app=win.app if win else None,
                title=redact(win.title).text if win and win.title else None,
                url=redact(win.url).text if win and win.url else None,
                text=red.text,
                words=words,
                redactions=red.kinds or None,
                thumb=thumb,
                width=frame.image.width,
                height=frame.image.height,
                origin=frame.origin,
                uid=frame.uid,
            )
        )
        self.inbox.count("captures_seen")
        with self._lock:
            self.detector.accept(frame.monitor, frame.image)
            self._last_ocr[frame.monitor] = result
        return Verdict("kept" if added else "known", uid=uid, redactions=red.kinds or None)

    def offer(self, frame: Frame) -> Verdict:
        """Screen and, if needed, perceive a frame on the calling thread (ingest)."""
        return self.screen(frame) or self.perceive(frame)

    @staticmethod
    def _thumbnail(image: Image.Image, secret_boxes: list) -> bytes:
        img = black_out(image.convert("RGB"), secret_boxes, pad=3) if secret_boxes else image
        img = img.convert("RGB")
        if img.width > THUMB_WIDTH:
            img = img.resize((THUMB_WIDTH, max(1, img.height * THUMB_WIDTH // img.width)))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=70)
        return buf.getvalue()


def _overlaps(word: object, findings: tuple) -> bool:
    a, b = word.char_start, word.char_end  # type: ignore[attr-defined]
    return any(f.start < b and a < f.end for f in findings)
