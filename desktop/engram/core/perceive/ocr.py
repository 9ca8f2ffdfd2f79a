"""OCR with tesseract: full frames, or only the changed regions merged into the last result.

Tesseract runs as a subprocess (pytesseract). Its OpenMP threads fight each other on few cores
(a 1080p screen takes ~20 s with the default, ~2.5 s with one thread on 2 cores), so
``OMP_THREAD_LIMIT=1`` is put into ``os.environ``, which pytesseract hands to the subprocess;
nothing else in Engram uses OpenMP. Images go to tesseract as grayscale (a third of the PNG to
write and read; tesseract binarises grey anyway). Word boxes are always in the coordinates of
the image passed in, whatever ``scale`` was used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytesseract
from PIL import Image, ImageOps

Box = tuple[int, int, int, int]

INSTALL_HINT = (
    "install tesseract: apt-get install tesseract-ocr (Fedora: dnf install tesseract; "
    "macOS: brew install tesseract; Windows: the UB Mannheim installer), "
    "or point pytesseract.pytesseract.tesseract_cmd at the binary"
)
FULL_FRAME_SHARE = 0.6  # above this share of changed area, one full-frame pass is cheaper
MIN_SCALE = 0.75  # below this, 11-13 px screen text stops being readable
_MARGIN = 4  # px around a previous line when a box is grown to it
_BORDER = 10  # px of background around a crop: tesseract misreads text touching the image edge


class OcrError(Exception):
    """Tesseract is missing, failed, timed out, or the image cannot be read."""


@dataclass(frozen=True)
class OcrWord:
    """One word; ``line`` is the index of its line in the result, ``char_start``/``char_end``
    its span in ``OcrResult.text``."""

    text: str
    left: int
    top: int
    width: int
    height: int
    conf: float
    line: int
    char_start: int
    char_end: int


@dataclass(frozen=True)
class OcrResult:
    """Text line by line (blank line between blocks), its words, the seconds spent in OCR and
    the number of pixels OCR'd (0 when nothing had to be read again)."""

    text: str
    words: tuple[OcrWord, ...]
    seconds: float
    pixels: int


@dataclass
class _Line:
    block: tuple  # (source..., block number); lines of one block are separated by "\n", blocks by a blank line
    words: list[tuple[str, int, int, int, int, float]] = field(default_factory=list)

    @property
    def top(self) -> int:
        return min(w[2] for w in self.words)

    @property
    def bottom(self) -> int:
        return max(w[2] + w[4] for w in self.words)

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def left(self) -> int:
        return min(w[1] for w in self.words)

    @property
    def right(self) -> int:
        return max(w[1] + w[3] for w in self.words)


def tesseract_available() -> tuple[bool, str]:
    """(True, version) when tesseract runs and has English data, else (False, how to fix)."""
    try:
        version = str(pytesseract.get_tesseract_version())
        languages = pytesseract.get_languages()
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        return False, f"tesseract not found ({exc}); {INSTALL_HINT}"
    except SystemExit as exc:  # pytesseract exits on versions it cannot parse (< 3.05)
        return False, f"unsupported tesseract: {exc}; {INSTALL_HINT}"
    if "eng" not in languages:
        return False, f"tesseract {version} has no English data: apt-get install tesseract-ocr-eng"
    return True, version


def ocr_image(
    image: Image.Image | str | os.PathLike[str],
    lang: str = "eng",
    scale: float = 1.0,
    min_conf: float = 30.0,
    timeout: float = 60.0,
) -> OcrResult:
    """OCR a whole image (or an image file). Words below ``min_conf`` are dropped."""
    gray = _load(image)
    start = time.perf_counter()
    lines, pixels = _read(gray, (0, 0), ("full",), lang, scale, min_conf, timeout)
    return _assemble(lines, time.perf_counter() - start, pixels)


def ocr_regions(
    image: Image.Image | str | os.PathLike[str],
    boxes: Sequence[Box],
    previous: OcrResult | None,
    **kw: float | str,
) -> OcrResult:
    """OCR only ``boxes`` (full-frame pixel boxes, e.g. ``Change.boxes``) and merge the words
    with ``previous``: its words outside every box are kept, the words read in the boxes are
    added, and lines are rebuilt in reading order (top, then left).

    A box is first grown to the whole previous lines it touches, so no word or line is cut. Without a
    previous result, or when the boxes cover more than 60 % of the frame, the whole frame is
    read. No boxes means nothing changed: the previous text comes back with ``pixels == 0``.
    ``kw`` are passed to :func:`ocr_image` (lang, scale, min_conf, timeout).
    """
    gray = _load(image)
    width, height = gray.size
    clipped = [b for b in (_clip(b, width, height) for b in boxes) if b is not None]
    if previous is None:
        return ocr_image(gray, **kw)  # type: ignore[arg-type]
    if not clipped:
        return OcrResult(previous.text, previous.words, 0.0, 0)
    grown = _grow(clipped, previous.words, width, height)
    if _coverage(grown, width, height) > FULL_FRAME_SHARE:
        return ocr_image(gray, **kw)  # type: ignore[arg-type]

    lang = str(kw.get("lang", "eng"))
    scale = float(kw.get("scale", 1.0))
    min_conf = float(kw.get("min_conf", 30.0))
    timeout = float(kw.get("timeout", 60.0))
    start = time.perf_counter()
    lines = _previous_lines(previous, grown)
    pixels = 0
    for i, (x0, y0, x1, y1) in enumerate(grown):
        crop = gray.crop((x0, y0, x1, y1))
        crop = ImageOps.expand(crop, border=_BORDER, fill=_background(crop))
        offset = (x0 - _BORDER, y0 - _BORDER)
        found, n = _read(crop, offset, ("box", i), lang, scale, min_conf, timeout)
        lines.extend(found)
        pixels += n
    return _assemble(_reading_order(lines), time.perf_counter() - start, pixels)


def _load(image: Image.Image | str | os.PathLike[str]) -> Image.Image:
    """Open and validate, flatten transparency onto white, convert to grayscale."""
    try:
        if isinstance(image, str | os.PathLike):
            with Image.open(image) as opened:
                opened.load()
                img = opened.copy()
        elif isinstance(image, Image.Image):
            img = image
            img.load()
        else:
            raise OcrError(f"expected a PIL image or an image path, got {type(image).__name__}")
    except OcrError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise OcrError(f"cannot read image: {exc}") from exc
    if img.width < 1 or img.height < 1:
        raise OcrError(f"empty image ({img.width}x{img.height}): nothing to read")
    if "A" in img.getbands() or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return img if img.mode == "L" else img.convert("L")


def _read(
    gray: Image.Image,
    offset: tuple[int, int],
    key: tuple,
    lang: str,
    scale: float,
    min_conf: float,
    timeout: float,
) -> tuple[list[_Line], int]:
    """Run tesseract on one grayscale image; lines in tesseract's order, boxes offset back."""
    if not MIN_SCALE <= scale <= 4.0:
        raise ValueError(f"scale must be within {MIN_SCALE}..4 (smaller loses screen text)")
    if gray.width < 4 or gray.height < 4:  # tesseract rejects slivers; nothing to read there
        return [], 0
    src = gray
    if scale != 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        src = gray.resize(size, Image.Resampling.LANCZOS)
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        data = pytesseract.image_to_data(
            src, lang=lang, output_type=pytesseract.Output.DICT, timeout=timeout
        )
    except pytesseract.TesseractNotFoundError as exc:
        cmd = pytesseract.pytesseract.tesseract_cmd
        raise OcrError(f"tesseract not found (tried {cmd!r}); {INSTALL_HINT}") from exc
    except pytesseract.TesseractError as exc:
        if "Failed loading language" in str(exc.message):
            raise OcrError(
                f"tesseract has no {lang!r} language data: apt-get install tesseract-ocr-{lang}"
            ) from exc
        raise OcrError(f"tesseract failed (status {exc.status}): {exc.message}") from exc
    except RuntimeError as exc:  # pytesseract's timeout
        raise OcrError(f"tesseract gave no answer within {timeout:g} s: {exc}") from exc
    except OSError as exc:
        raise OcrError(f"cannot run tesseract: {exc}; {INSTALL_HINT}") from exc

    lines: dict[tuple, _Line] = {}
    dx, dy = offset
    for i, text in enumerate(data["text"]):
        text = text.strip()
        conf = float(data["conf"][i])
        if int(data["level"][i]) != 5 or not text or conf < min_conf:
            continue
        block = (*key, data["page_num"][i], data["block_num"][i])
        line_key = (*block, data["par_num"][i], data["line_num"][i])
        word = (
            text,
            dx + round(data["left"][i] / scale),
            dy + round(data["top"][i] / scale),
            round(data["width"][i] / scale),
            round(data["height"][i] / scale),
            conf,
        )
        lines.setdefault(line_key, _Line(block)).words.append(word)
    return list(lines.values()), src.width * src.height


def _assemble(lines: Iterable[_Line], seconds: float, pixels: int) -> OcrResult:
    """Join words by spaces, lines by newlines, blocks by a blank line; record char offsets."""
    parts: list[str] = []
    words: list[OcrWord] = []
    pos = 0
    previous_block = None
    for n, line in enumerate(ln for ln in lines if ln.words):
        if n:
            sep = "\n" if line.block == previous_block else "\n\n"
            parts.append(sep)
            pos += len(sep)
        previous_block = line.block
        for k, (text, left, top, width, height, conf) in enumerate(line.words):
            if k:
                parts.append(" ")
                pos += 1
            words.append(OcrWord(text, left, top, width, height, conf, n, pos, pos + len(text)))
            parts.append(text)
            pos += len(text)
    return OcrResult("".join(parts), tuple(words), seconds, pixels)


def _background(gray: Image.Image) -> int:
    """The median grey of a crop's outline: the border added around it must not read as an
    edge (white around a dark-mode crop splits its lines into blocks)."""
    a = np.asarray(gray)
    return int(np.median(np.concatenate((a[0], a[-1], a[:, 0], a[:, -1]))))


def _clip(box: Sequence[int], width: int, height: int) -> Box | None:
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _overlaps(word: OcrWord, box: Box) -> bool:
    return _intersects((word.left, word.top, word.left + word.width, word.top + word.height), box)


def _grow(boxes: list[Box], words: Sequence[OcrWord], width: int, height: int) -> list[Box]:
    """Grow boxes to whole previous lines they touch, then merge boxes that overlap.

    Cutting a line would leave half a word to misread at the crop edge and half a line to
    splice; re-reading the whole line costs a strip of pixels and keeps lines intact.
    """
    spans: dict[int, list[int]] = {}
    for w in words:
        s = spans.setdefault(w.line, [w.left, w.top, w.left + w.width, w.top + w.height])
        s[0], s[1] = min(s[0], w.left), min(s[1], w.top)
        s[2], s[3] = max(s[2], w.left + w.width), max(s[3], w.top + w.height)
    lines = [
        (x0 - _MARGIN, y0 - _MARGIN, x1 + _MARGIN, y1 + _MARGIN)
        for x0, y0, x1, y1 in spans.values()
    ]
    out = list(boxes)
    changed = True
    while changed:
        changed = False
        for i, box in enumerate(out):
            for line in lines:
                if _intersects(box, line) and not _contains(box, line):
                    box = _union(box, line)
                    changed = True
            for j in range(i + 1, len(out)):
                if _intersects(box, out[j]):
                    box = _union(box, out.pop(j))
                    changed = True
                    break
            out[i] = box
            if changed:
                break
    return [(max(0, x0), max(0, y0), min(width, x1), min(height, y1)) for x0, y0, x1, y1 in out]


def _intersects(a: Sequence[int], b: Sequence[int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _contains(a: Sequence[int], b: Sequence[int]) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a[2] >= b[2] and a[3] >= b[3]


def _union(a: Sequence[int], b: Sequence[int]) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _coverage(boxes: list[Box], width: int, height: int) -> float:
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    return float(mask.mean())


def _previous_lines(previous: OcrResult, boxes: list[Box]) -> list[_Line]:
    """The previous words outside every box, grouped by their line; the block of a line is
    recovered from the blank lines in the previous text."""
    lines: dict[int, _Line] = {}
    for w in previous.words:
        if any(_overlaps(w, b) for b in boxes):
            continue
        line = lines.get(w.line)
        if line is None:
            block = previous.text.count("\n\n", 0, w.char_start)
            line = lines[w.line] = _Line(("previous", block))
        line.words.append((w.text, w.left, w.top, w.width, w.height, w.conf))
    return list(lines.values())


def _reading_order(lines: list[_Line]) -> list[_Line]:
    """Sort lines top to bottom, left to right; join pieces of one visual line (a previous
    line's kept words and the words read in a box over its end) when they sit side by side."""
    ordered: list[_Line] = []
    row: list[_Line] = []
    for line in sorted(lines, key=lambda ln: (ln.top + ln.bottom) / 2):
        if row and _same_row(row[0], line):
            row.append(line)
            continue
        ordered.extend(_join_row(row))
        row = [line]
    ordered.extend(_join_row(row))
    # Block breaks: tesseract's own between lines it read in one pass; between lines from
    # different passes, a vertical gap taller than the lines (a paragraph break).
    block, out = 0, []
    for prev, line in zip([None, *ordered], ordered, strict=False):
        if prev is not None:
            if prev.block[:-1] == line.block[:-1]:
                block += prev.block != line.block
            else:
                block += line.top - prev.bottom > max(line.height, prev.height)
        out.append(_Line(("merged", block), line.words))
    return out


def _same_row(a: _Line, b: _Line) -> bool:
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= 0.5 * min(a.bottom - a.top, b.bottom - b.top)


def _join_row(row: list[_Line]) -> list[_Line]:
    out: list[_Line] = []
    for line in sorted(row, key=lambda ln: ln.left):
        last = out[-1] if out else None
        height = max(line.bottom - line.top, 1)
        if last is not None and line.left - last.right <= 2 * height:
            last.words = sorted([*last.words, *line.words], key=lambda w: w[1])
        else:
            out.append(_Line(line.block, sorted(line.words, key=lambda w: w[1])))
    return out
