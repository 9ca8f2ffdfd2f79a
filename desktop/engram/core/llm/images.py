"""Images for vision models: downscaled JPEG data URLs keep requests small and cheap."""

from __future__ import annotations

import base64
import io

from PIL import Image


def to_data_url(image: Image.Image, max_side: int = 1280, quality: int = 80) -> str:
    """`data:image/jpeg;base64,...` of `image`, longest side at most `max_side` pixels."""
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    if not 1 <= quality <= 95:
        raise ValueError(f"quality must be in 1..95, got {quality}")
    img = image
    if img.mode not in ("RGB", "L"):
        # JPEG has no alpha: composite onto white so transparent areas don't turn black.
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
