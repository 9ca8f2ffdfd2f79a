"""Black out excluded windows that are on screen without having focus.

The focus check alone misses a password manager that sits beside the editor being typed
in, or a private window that has just been mapped and not yet focused. Where the platform
can list the windows on screen (X11), the parts of excluded windows that are not covered
by windows above them are filled black before the frame is looked at, so OCR,
thumbnails and the change detector never see those pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from engram.core.capture.window import ScreenWindow, WindowInfo

Rect = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive)


def subtract(rect: Rect, cut: Rect) -> list[Rect]:
    """``rect`` minus ``cut``: up to four rectangles that do not overlap ``cut``."""
    x0, y0, x1, y1 = rect
    cx0, cy0, cx1, cy1 = cut
    if cx1 <= x0 or cx0 >= x1 or cy1 <= y0 or cy0 >= y1:
        return [rect]
    out: list[Rect] = []
    if cy0 > y0:
        out.append((x0, y0, x1, cy0))  # band above the cut
    if cy1 < y1:
        out.append((x0, cy1, x1, y1))  # band below
    top, bottom = max(y0, cy0), min(y1, cy1)
    if cx0 > x0:
        out.append((x0, top, cx0, bottom))  # left of the cut, between the bands
    if cx1 < x1:
        out.append((cx1, top, x1, bottom))  # right of the cut
    return out


def hidden_regions(
    windows: Sequence[ScreenWindow], excluded: Callable[[WindowInfo | None], str | None]
) -> list[Rect]:
    """The visible parts of excluded windows (``windows`` bottom to top, root coordinates).

    Only client windows count as covering: a frame or overlay without ``WM_CLASS`` may be
    translucent, so what lies under it stays hidden.
    """
    regions: list[Rect] = []
    for i, win in enumerate(windows):
        if win.info is None or not excluded(win.info):
            continue
        parts = [win.rect]
        for above in windows[i + 1 :]:
            if above.info is None or excluded(above.info):
                continue
            parts = [piece for part in parts for piece in subtract(part, above.rect)]
            if not parts:
                break
        regions.extend(parts)
    return disjoint(regions)


def to_image(regions: Iterable[Rect], left: int, top: int, width: int, height: int) -> list[Rect]:
    """Regions in root coordinates, moved into one monitor's image and clipped to it."""
    out: list[Rect] = []
    for x0, y0, x1, y1 in regions:
        box = (max(0, x0 - left), max(0, y0 - top), min(width, x1 - left), min(height, y1 - top))
        if box[2] > box[0] and box[3] > box[1]:
            out.append(box)
    return out


def disjoint(rects: Iterable[Rect]) -> list[Rect]:
    """The same covered area as ``rects``, as rectangles that do not overlap."""
    out: list[Rect] = []
    for rect in rects:
        pieces = [rect]
        for seen in out:
            pieces = [p for piece in pieces for p in subtract(piece, seen)]
        out.extend(pieces)
    return out


def area(rects: Iterable[Rect]) -> int:
    """Total area of rectangles that do not overlap one another."""
    return sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects)
