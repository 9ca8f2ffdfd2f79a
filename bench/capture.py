"""Capture pipeline costs: change detection per frame, full-frame vs changed-region OCR, RSS.

Prints a markdown table for the README. Frames are rendered with PIL (a 1920x1080 desktop:
top bar with a clock, file sidebar, an editor with code, a terminal with a build log), so the numbers do not depend on
what is on the bench machine's screen. Medians over repeated runs; ratios are taken within
one run. The screen grab (mss) is timed only when a DISPLAY is set. Tesseract's own peak RSS
is not shown: a child's ru_maxrss on Linux starts from the parent's RSS at fork.

    .venv/bin/python bench/capture.py [--runs 5] [--frames 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "desktop"))

from engram.core.capture.change import ChangeDetector  # noqa: E402
from engram.core.perceive.ocr import ocr_image, ocr_regions, tesseract_available  # noqa: E402

SIZE = (1920, 1080)
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
CODE = [
    "def load_config(path: Path) -> dict[str, object]:",
    '    """Read the TOML settings, falling back to defaults."""',
    "    if not path.exists():",
    "        return dict(DEFAULTS)",
    "    with path.open('rb') as fh:",
    "        data = tomllib.load(fh)",
    "    merged = {**DEFAULTS, **data}",
    "    for key, value in os.environ.items():",
    "        if key.startswith('ENGRAM_'):",
    "            merged[key[7:].lower()] = value",
    "    return merged",
    "",
]


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(FONT), size) if FONT.exists() else ImageFont.load_default(size)


def frame(typed: int = 0, clock: str = "10:41") -> Image.Image:
    """The desktop with ``typed`` extra lines appended in the editor."""
    w, h = SIZE
    img = Image.new("RGB", SIZE, (250, 250, 250))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 27), fill=(36, 36, 40))
    d.text((12, 5), "Activities   Code - config.py", fill="white", font=font(14))
    d.text((w - 60, 5), clock, fill="white", font=font(14))
    d.rectangle((0, 28, 259, h), fill=(228, 230, 236))
    for i, name in enumerate(["config.py", "store.py", "capture.py", "ocr.py", "cli.py"]):
        d.text((16, 48 + i * 26), name, fill=(30, 30, 30), font=font(15))
    lines = (CODE * 2)[:15] + [
        f"    # note {n}: checked the merge order again" for n in range(typed)
    ]
    for i, line in enumerate(lines):
        d.text((290, 40 + i * 22), line, fill=(20, 20, 20), font=font(15))
    d.rectangle((1100, 28, w, h), fill=(30, 32, 38))  # a terminal with a build log
    for i in range(46):
        log = f"[{10 + i // 60:02d}:{i % 60:02d}:07] test_store.py::test_case_{i:03d} PASSED ({i * 37 % 100}%)"
        d.text((1116, 40 + i * 22), log, fill=(210, 215, 205), font=font(14))
    return img


def cpu_per_frame(frames: int, typing: bool) -> tuple[float, int]:
    """Process CPU ms per frame for check (+ accept when kept), rendering not counted; and
    the number of frames kept. One line is typed per frame when ``typing``."""
    det = ChangeDetector()
    det.accept(0, frame())
    static = frame()
    kept, spent = 0, 0.0
    for n in range(1, frames):
        img = frame(typed=n) if typing else static
        start = time.process_time()
        if det.check(0, img).changed:
            det.accept(0, img)
            kept += 1
        spent += time.process_time() - start
    return spent * 1000 / (frames - 1), kept


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def grab_ms(runs: int) -> str:
    if not os.environ.get("DISPLAY"):
        return "skipped (no DISPLAY set)"
    import mss

    with mss.mss() as sct:
        mon = sct.monitors[1]
        times = []
        for _ in range(runs * 5):
            start = time.perf_counter()
            shot = sct.grab(mon)
            Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")
            times.append((time.perf_counter() - start) * 1000)
    return f"{statistics.median(times):.1f} ms wall ({mon['width']}x{mon['height']})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args()
    ok, version = tesseract_available()
    if not ok:
        sys.exit(version)

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    static_ms, changing_ms, kept = [], [], 0
    for _ in range(args.runs):
        ms, _ = cpu_per_frame(args.frames, typing=False)
        static_ms.append(ms)
        ms, kept = cpu_per_frame(args.frames, typing=True)
        changing_ms.append(ms)

    before, after = frame(typed=0), frame(typed=1)
    det = ChangeDetector()
    det.accept(0, before)
    change = det.check(0, after)
    previous = ocr_image(before)
    full_s, region_s, ratios, full_child, region_child = [], [], [], [], []
    full_px = region_px = 0
    for _ in range(args.runs):
        c0 = children_cpu()
        full = ocr_image(after)
        c1 = children_cpu()
        region = ocr_regions(after, change.boxes, previous)
        c2 = children_cpu()
        full_s.append(full.seconds)
        region_s.append(region.seconds)
        full_child.append(c1 - c0)
        region_child.append(c2 - c1)
        ratios.append(full.seconds / region.seconds)
        full_px, region_px = full.pixels, region.pixels
    assert "note 0" in region.text, region.text  # the typed line was read

    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med = statistics.median
    print(f"## Capture costs ({SIZE[0]}x{SIZE[1]}, tesseract {version}, OMP_THREAD_LIMIT=1)\n")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; medians of {args.runs} runs\n")  # fmt: skip
    print("| measure | value |")
    print("|---|---|")
    print(f"| change detection, static screen (CPU per frame) | {med(static_ms):.1f} ms |")
    print(
        f"| change detection, one line typed per frame (CPU per frame, {kept}/"
        f"{args.frames - 1} kept) | {med(changing_ms):.1f} ms |"
    )
    print(f"| changed boxes for one typed line | {len(change.boxes)}: {change.boxes} |")
    print(
        f"| OCR full frame ({full_px / 1e6:.2f} Mpx) | {med(full_s):.2f} s wall, "
        f"{med(full_child):.2f} s tesseract CPU |"
    )
    print(
        f"| OCR changed region + merge ({region_px / 1e6:.3f} Mpx) | {med(region_s):.2f} s wall, "
        f"{med(region_child):.2f} s tesseract CPU |"
    )
    print(f"| full / region OCR time (median of per-run ratios) | {med(ratios):.1f}x |")
    print(f"| peak RSS, this process (after imports: {rss_start:.0f} MiB) | {rss_self:.0f} MiB |")
    print(f"| screen grab (mss) | {grab_ms(args.runs)} |")


if __name__ == "__main__":
    main()
