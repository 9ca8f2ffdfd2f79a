"""Render the app icon (assets/icons/engram.svg) to PNGs 16..512, an .ico and an .icns.

The PNGs go to the hicolor icon theme on Linux (``engram install --desktop-entry``); the .ico
and .icns are the executable's icon on Windows and macOS (packaging/engram.spec). Qt's SVG
renderer draws them offscreen, so this runs without a display:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/render_icons.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(svg: Path, out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Draw ``svg`` at each size into ``out_dir/engram-<size>.png`` plus .ico and .icns."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"engram-{size}.png"
        if not image.save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
        written.append(path)
    written += _containers(out_dir)
    return written


def _containers(out_dir: Path) -> list[Path]:
    """Windows .ico and macOS .icns holding the PNGs drawn at each size (not resampled)."""
    from PIL import Image

    pngs = {s: Image.open(out_dir / f"engram-{s}.png").convert("RGBA") for s in SIZES}
    big = pngs[max(SIZES)]
    ico = out_dir / "engram.ico"
    big.save(
        ico,
        format="ICO",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[pngs[s] for s in ICO_SIZES],
    )
    icns = out_dir / "engram.icns"
    big.save(icns, format="ICNS", append_images=[pngs[s] for s in SIZES if s != max(SIZES)])
    return [ico, icns]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--svg", type=Path, default=ROOT / "assets" / "icons" / "engram.svg")
    p.add_argument("--out", type=Path, default=ROOT / "assets" / "icons" / "png")
    args = p.parse_args(argv)
    for path in render(args.svg, args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
