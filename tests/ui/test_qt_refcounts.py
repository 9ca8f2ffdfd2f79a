"""Qt bindings must not leak or drop references in the calls every paint makes.

PySide6 6.12.0 decremented None's reference count on each void QPainter call; the app then
aborted ("Fatal Python error: none_dealloc") after a few thousand paints of the timeline.
This test fails on such a build, so a Qt upgrade cannot bring it back unnoticed.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter


def test_void_painter_calls_keep_none_alive(qapp):
    img = QImage(64, 64, QImage.Format.Format_RGB32)
    painter = QPainter(img)
    color, brush = QColor("#e0485a"), QBrush(QColor("#3a7bd5"))
    calls = [
        lambda: painter.fillRect(QRect(1, 1, 5, 5), color),
        lambda: painter.fillRect(QRect(1, 1, 5, 5), brush),
        lambda: painter.setPen(color),
        lambda: painter.setPen(Qt.PenStyle.NoPen),
        lambda: painter.setBrush(brush),
        lambda: painter.drawRect(QRect(2, 2, 8, 8)),
        lambda: painter.drawLine(0, 0, 10, 10),
        lambda: painter.drawText(QRect(0, 0, 60, 20), Qt.AlignmentFlag.AlignVCenter, "x"),
    ]
    try:
        before = sys.getrefcount(None)
        for _ in range(200):
            for call in calls:
                call()
        drift = sys.getrefcount(None) - before
    finally:
        painter.end()
    assert abs(drift) < 50, f"None's refcount moved by {drift} over 1,600 painter calls"
