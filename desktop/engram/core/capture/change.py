"""Change detection between screen frames: drop near-duplicates, keep the boxes that changed.

Each monitor (``key``) keeps the small grayscale copy of its last *kept* frame. A new frame is
reduced the same way (box-filter reduce by 4, then grayscale: ~3 ms for 1080p), differenced
against it, and the difference is pooled into a grid of ``cell`` x ``cell`` pixel cells. A cell
is changed when any of its small pixels differs by more than ``pixel_delta`` grey levels.

Why the defaults (the cursor/clock decision). Cursors, clocks, spinners and tray icons are
a fixed number of *pixels*, whatever the screen size; what a person did (typed a line, scrolled,
switched apps) spans a wider region. So the decision looks at the shape of each connected
region (8-neighbour) of changed cells before it looks at the total:

- ``pixel_delta=24``: above compression and compositor noise and sub-pixel anti-aliasing
  jitter, below the contrast of a 1 px text stroke averaged over a 4x4 block (~50 levels).
- ``min_region_cells=2``: a region of fewer cells is noise (a blinking caret) and is dropped.
- ``sprite=(96, 128)``: a region whose bounding box fits in 96x128 px is a sprite and is
  dropped: a 16..32 px cursor at its old and new place (each footprint covers at most 3x4
  cells; touching, the pair fits 6x8 cells), a clock tick ("10:41" -> "10:42" is one 16 px
  digit, "10:59" -> "11:00" about 40 px), a spinner, a tray icon. A typed word shorter than
  ~12 characters is dropped too, but see below.
- ``threshold=0.001``: what is left must cover at least 0.1 % of all cells (8 cells of the
  120x68 grid of a 1920x1080 screen, about a 130 px run of 16 px text). The sprite rule, not
  this share, carries the cursor/clock decision: a share high enough to hide a moving cursor
  on its own (0.5 % = 41 cells at 1080p) also hides a typed 40-character line. Measured on
  rendered 1280x800 and 1920x1080 frames: 0/600 random cursor moves (16x24 and 32x48) count,
  a typed run of 16+ characters always counts.

Comparison is always with the last kept frame, so small edits (a word per frame) accumulate
until the changed region outgrows a sprite and the threshold, instead of being lost.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]

_FACTOR = 4  # downscale factor before differencing


@dataclass(frozen=True)
class Change:
    """Verdict for one frame.

    ``score`` is the share of grid cells that changed, counting only regions that are neither
    noise (fewer than ``min_region_cells`` cells) nor sprite-sized. ``boxes`` are (left, top, right, bottom) in full-resolution
    pixels, merged, padded by one cell and clipped to the frame.
    """

    changed: bool
    score: float
    boxes: tuple[Box, ...]


@dataclass
class _Kept:
    size: tuple[int, int]
    small: np.ndarray


class ChangeDetector:
    """Per-monitor near-duplicate filter; see the module docstring for the defaults."""

    def __init__(
        self,
        threshold: float = 0.001,
        cell: int = 16,
        pixel_delta: int = 24,
        min_region_cells: int = 2,
        max_boxes: int = 8,
        sprite: tuple[int, int] = (96, 128),
    ) -> None:
        if cell < 1 or max_boxes < 1 or min_region_cells < 1:
            raise ValueError("cell, max_boxes and min_region_cells must be >= 1")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be within 0..1")
        self.threshold = threshold
        self.cell = cell
        self.pixel_delta = pixel_delta
        self.min_region_cells = min_region_cells
        self.max_boxes = max_boxes
        self.sprite = sprite
        self._factor = _FACTOR if cell % _FACTOR == 0 else 1
        self._kept: dict[Hashable, _Kept] = {}
        # the small copy computed by check(), reused by accept() for the same image object
        self._pending: dict[Hashable, tuple[weakref.ref[Image.Image], _Kept]] = {}
        self._lock = threading.Lock()

    def check(self, key: Hashable, image: Image.Image) -> Change:
        """Compare ``image`` with the last kept frame of ``key``; does not record it."""
        current = self._shrink(image)
        with self._lock:
            self._pending[key] = (weakref.ref(image), current)
            kept = self._kept.get(key)
        width, height = image.size
        if kept is None or kept.size != current.size:
            return Change(True, 1.0, ((0, 0, width, height),))
        return self._compare(kept.small, current.small, width, height)

    def accept(self, key: Hashable, image: Image.Image) -> None:
        """Record ``image`` as the last kept frame of ``key``."""
        with self._lock:
            pending = self._pending.pop(key, None)
        if pending is not None and pending[0]() is image and pending[1].size == image.size:
            current = pending[1]
        else:
            current = self._shrink(image)
        with self._lock:
            self._kept[key] = current

    def reset(self, key: Hashable | None = None) -> None:
        """Forget one monitor's last kept frame, or all of them."""
        with self._lock:
            if key is None:
                self._kept.clear()
                self._pending.clear()
            else:
                self._kept.pop(key, None)
                self._pending.pop(key, None)

    def _shrink(self, image: Image.Image) -> _Kept:
        if not isinstance(image, Image.Image):
            raise TypeError(f"expected a PIL image, got {type(image).__name__}")
        if image.width < 1 or image.height < 1:
            raise ValueError(f"empty frame ({image.width}x{image.height})")
        if image.mode not in ("RGB", "RGBA", "RGBX", "L"):
            image = image.convert("RGB")
        small = image.reduce(self._factor) if self._factor > 1 else image
        return _Kept(image.size, np.asarray(small.convert("L"), dtype=np.int16))

    def _compare(self, before: np.ndarray, after: np.ndarray, width: int, height: int) -> Change:
        step = self.cell // self._factor  # cell size in small pixels
        diff = np.abs(after - before) > self.pixel_delta
        rows, cols = -(-diff.shape[0] // step), -(-diff.shape[1] // step)
        padded = np.zeros((rows * step, cols * step), dtype=bool)
        padded[: diff.shape[0], : diff.shape[1]] = diff
        grid = padded.reshape(rows, step, cols, step).any(axis=(1, 3))
        labels, sizes = _label(grid)
        extent = _bboxes(labels, sizes)
        wide = (extent[:, 2] - extent[:, 0] + 1) * self.cell > self.sprite[0]
        tall = (extent[:, 3] - extent[:, 1] + 1) * self.cell > self.sprite[1]
        keep = np.concatenate(([False], (sizes[1:] >= self.min_region_cells) & (wide | tall)))
        mask = keep[labels]
        cells = int(mask.sum())
        score = cells / (rows * cols)
        if not cells or score < self.threshold:
            return Change(False, score, ())
        # one cell of dilation joins regions a cell apart and makes each bbox the padded bbox
        grown = np.zeros((rows + 2, cols + 2), dtype=bool)
        for dy in range(3):
            for dx in range(3):
                grown[dy : dy + rows, dx : dx + cols] |= mask
        grown = grown[1:-1, 1:-1]
        boxes = _merge(_bboxes(*_label(grown)), self.max_boxes)
        c = self.cell
        full = tuple(
            (c0 * c, r0 * c, min(width, (c1 + 1) * c), min(height, (r1 + 1) * c))
            for c0, r0, c1, r1 in boxes
        )
        return Change(True, score, full)


def _label(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a boolean grid: (labels with 0 = background, size per label).

    Horizontal runs are found with numpy and joined by union-find across adjacent rows, so the
    Python work scales with the number of runs, not cells (scipy is not a dependency).
    """
    runs: list[tuple[int, int, int]] = []  # (row, start, stop)
    row_starts = [0]
    for r in range(grid.shape[0]):
        line = grid[r]
        if line.any():
            edges = np.diff(np.concatenate(([0], line.view(np.int8), [0])))
            starts = np.flatnonzero(edges == 1)
            stops = np.flatnonzero(edges == -1)
            runs.extend((r, int(a), int(b)) for a, b in zip(starts, stops, strict=True))
        row_starts.append(len(runs))
    parent = list(range(len(runs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(1, grid.shape[0]):
        lo = row_starts[r - 1]
        for j in range(row_starts[r], row_starts[r + 1]):
            _, a, b = runs[j]
            for k in range(lo, row_starts[r]):
                _, ka, kb = runs[k]
                if ka > b:  # runs are sorted; the rest of the row above is further right
                    break
                if kb >= a:  # overlapping or touching diagonally (runs are half-open)
                    ra, rb = find(k), find(j)
                    if ra != rb:
                        parent[ra] = rb
    labels = np.zeros(grid.shape, dtype=np.int32)
    ids: dict[int, int] = {}
    for i, (r, a, b) in enumerate(runs):
        labels[r, a:b] = ids.setdefault(find(i), len(ids) + 1)
    sizes = np.bincount(labels.ravel(), minlength=len(ids) + 1)
    return labels, sizes


def _bboxes(labels: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Inclusive cell bboxes (col0, row0, col1, row1) of labels 1..n, as an (n, 4) array."""
    n = len(sizes) - 1
    rows, cols = np.nonzero(labels)
    ids = labels[rows, cols] - 1
    out = np.empty((n, 4), dtype=np.int64)
    out[:, :2] = np.iinfo(np.int64).max
    out[:, 2:] = -1
    np.minimum.at(out[:, 0], ids, cols)
    np.minimum.at(out[:, 1], ids, rows)
    np.maximum.at(out[:, 2], ids, cols)
    np.maximum.at(out[:, 3], ids, rows)
    return out


def _gaps(boxes: np.ndarray) -> np.ndarray:
    """Pairwise gap in empty cells between inclusive boxes (0 = adjacent, -1 = overlapping)."""
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    dx = np.maximum(x0[:, None] - x1[None, :], x0[None, :] - x1[:, None]) - 1
    dy = np.maximum(y0[:, None] - y1[None, :], y0[None, :] - y1[:, None]) - 1
    gap = np.maximum(np.maximum(dx, dy), -1)
    np.fill_diagonal(gap, np.iinfo(np.int64).max)
    return gap


def _merge(boxes: np.ndarray, limit: int) -> list[tuple[int, int, int, int]]:
    """Merge boxes that overlap or touch, then the nearest pairs until ``limit`` remain."""
    boxes = boxes.copy()
    while len(boxes) > 1:
        gap = _gaps(boxes)
        touching = gap <= 0
        if touching.any():
            i, j = np.argwhere(touching)[0]
        elif len(boxes) > limit:
            # nearest pair; among equals the one whose union adds the least area
            flat = np.flatnonzero(gap == gap.min())
            cand = np.stack(np.unravel_index(flat, gap.shape), axis=1)
            i, j = min(cand.tolist(), key=lambda p: _area(_union(boxes[p[0]], boxes[p[1]])))
        else:
            break
        boxes[i] = _union(boxes[i], boxes[j])
        boxes = np.delete(boxes, j, axis=0)
    return sorted((tuple(int(v) for v in b) for b in boxes), key=lambda b: (b[1], b[0]))


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])


def _area(b: np.ndarray) -> int:
    return int((b[2] - b[0] + 1) * (b[3] - b[1] + 1))
