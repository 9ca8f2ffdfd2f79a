"""Rendered screen frames for tests: real pixels with real text, no fixtures on disk."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# distinctive words for frame texts (crash trials check which ones survived)
WORDS = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "iris",
         "jasper", "kelp", "lagoon", "marble", "nectar", "onyx", "prairie", "quartz", "reef",
         "sierra", "tundra"]


def font(size: int = 22) -> ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size=size)


def render(lines: list[str], size: tuple[int, int] = (900, 500), top_bar: str = "") -> Image.Image:
    """A white 'window' with a grey title bar and black text lines."""
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, size[0], 34), fill=(225, 225, 230))
    if top_bar:
        d.text((12, 6), top_bar, fill="black", font=font(18))
    f = font(22)
    y = 56
    for line in lines:
        d.text((24, y), line, fill="black", font=f)
        y += 36
    return img


def write_frame(
    folder: Path,
    name: str,
    lines: list[str],
    *,
    app: str | None = None,
    title: str | None = None,
    at: datetime | str | None = None,
    size: tuple[int, int] = (900, 500),
    sidecar: object = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    render(lines, size).save(path)
    if sidecar is not None:
        (folder / f"{name}.json").write_text(
            sidecar if isinstance(sidecar, str) else json.dumps(sidecar)
        )
    elif app or title or at:
        data = {"app": app, "title": title}
        if at is not None:
            data["at"] = at if isinstance(at, str) else at.isoformat()
        (folder / f"{name}.json").write_text(json.dumps(data))
    return path
