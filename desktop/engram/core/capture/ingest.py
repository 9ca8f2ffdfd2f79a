"""``engram ingest``: images from disk through the same pipeline as live capture.

An image may have a sidecar ``<stem>.json`` with ``{"app", "title", "at", "url"}`` (``at`` in
ISO 8601; without it the file's mtime). Frames are taken in time order so change detection
sees them as a screen would. A broken image or sidecar is an error for that item only.
The capture uid is derived from the file's bytes and time, so ingesting twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from engram.core.capture.pipeline import Frame, Perceiver
from engram.core.capture.window import WindowInfo

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MAX_PIXELS = 60_000_000  # 8K is 33 MP; a 20000x20000 "screenshot" is a bomb, not a screen
MAX_FILE_BYTES = 200 * 1024 * 1024


class IngestItemError(ValueError):
    """One input file cannot be used; the message says which and why."""


@dataclass
class IngestItem:
    path: Path
    at: datetime
    app: str | None = None
    title: str | None = None
    url: str | None = None


@dataclass
class IngestReport:
    frames: int = 0
    kept: int = 0
    skipped_duplicate: int = 0
    skipped_excluded: int = 0
    already_known: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    memories: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "kept": self.kept,
            "skipped_duplicate": self.skipped_duplicate,
            "skipped_excluded": self.skipped_excluded,
            "already_known": self.already_known,
            "errors": self.errors,
            "memories": self.memories,
        }


def _parse_at(value: Any, where: Path) -> datetime:
    if not isinstance(value, str):
        raise IngestItemError(
            f"{where}: 'at' must be an ISO 8601 string, not {type(value).__name__}"
        )
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return at if at.tzinfo else at.astimezone()  # year 1 local can fall out of range
    except (ValueError, OverflowError, OSError):
        raise IngestItemError(
            f"{where}: 'at' is not ISO 8601 (or out of range): {value[:60]!r}"
        ) from None


def read_sidecar(image: Path) -> IngestItem:
    side = image.with_suffix(".json")
    mtime = datetime.fromtimestamp(image.stat().st_mtime, UTC)
    if not side.exists():
        return IngestItem(image, mtime)
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestItemError(f"{side}: not valid UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise IngestItemError(f"{side}: must be a JSON object with app, title, at")
    out = IngestItem(image, _parse_at(data["at"], side) if "at" in data else mtime)
    for key in ("app", "title", "url"):
        v = data.get(key)
        if v is not None and not isinstance(v, str):
            raise IngestItemError(f"{side}: {key!r} must be a string, not {type(v).__name__}")
        if isinstance(v, str) and len(v) > 4096:
            raise IngestItemError(f"{side}: {key!r} is longer than 4096 characters")
        if isinstance(v, str) and not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise IngestItemError(
                    f"{side}: {key!r} is not valid Unicode (lone surrogate)"
                ) from None
        setattr(out, key, v)
    return out


def load_image(path: Path) -> Image.Image:
    """Open an image safely: size limits before decoding, a clear error for anything bad."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestItemError(f"{path}: cannot read ({exc.strerror})") from None
    if size == 0:
        raise IngestItemError(f"{path}: empty file")
    if size > MAX_FILE_BYTES:
        raise IngestItemError(f"{path}: {size} bytes is too large for a screenshot")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise IngestItemError(
                        f"{path}: {w}x{h} is over the {MAX_PIXELS // 1_000_000} MP limit"
                    )
                img.load()
                return img.convert("RGB")
    except IngestItemError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IngestItemError(
            f"{path}: image is over the {MAX_PIXELS // 1_000_000} MP limit (decompression bomb)"
        ) from None
    except UnidentifiedImageError as exc:
        raise IngestItemError(f"{path}: not a usable image ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise IngestItemError(f"{path}: corrupt or truncated image ({exc})") from None


def collect(paths: Iterable[str | Path]) -> tuple[list[IngestItem], list[dict[str, str]]]:
    items: list[IngestItem] = []
    errors: list[dict[str, str]] = []
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTS))
        elif p.is_file():
            files.append(p)
        else:
            errors.append({"path": str(p), "error": "no such file or folder"})
    for f in files:
        try:
            items.append(read_sidecar(f))
        except (IngestItemError, OSError) as exc:
            errors.append({"path": str(f), "error": str(exc)})
    items.sort(key=lambda it: (it.at, str(it.path)))
    return items, errors


def frame_uid(data: bytes, at: datetime) -> str:
    return "cap_" + hashlib.sha256(data + at.isoformat().encode()).hexdigest()[:16]


def ingest(perceiver: Perceiver, paths: Iterable[str | Path]) -> IngestReport:
    """Perceive every image (blocking); the caller then drains the memory stage."""
    items, errors = collect(paths)
    report = IngestReport(errors=errors)
    for it in items:
        report.frames += 1
        try:
            image = load_image(it.path)
            uid = frame_uid(it.path.read_bytes(), it.at)
        except IngestItemError as exc:
            report.errors.append({"path": str(it.path), "error": str(exc)})
            continue
        window = (
            WindowInfo(app=it.app or "", title=it.title or "", url=it.url)
            if (it.app or it.title)
            else None
        )
        frame = Frame(image=image, at=it.at, monitor=0, window=window, uid=uid, origin="ingest")
        try:
            verdict = perceiver.offer(frame)
        except Exception as exc:  # OCR failure etc.: this item only
            report.errors.append({"path": str(it.path), "error": f"{type(exc).__name__}: {exc}"})
            continue
        if verdict.outcome == "kept":
            report.kept += 1
        elif verdict.outcome == "duplicate":
            report.skipped_duplicate += 1
        elif verdict.outcome == "excluded":
            report.skipped_excluded += 1
        else:
            report.already_known += 1
    return report
