"""OCR against the real tesseract on frames rendered with PIL."""

from __future__ import annotations

import re
from pathlib import Path

import pytesseract
import pytest
from PIL import Image, ImageDraw, ImageFont

from engram.core.capture.change import ChangeDetector
from engram.core.perceive.ocr import (
    OcrError,
    OcrResult,
    ocr_image,
    ocr_regions,
    tesseract_available,
)

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SIZE = (1280, 800)
SENTENCES = [
    "The quarterly report is due on Friday afternoon.",
    "Remember to send the invoice to Maria before noon.",
    "Our meeting with the design team moved to Thursday.",
    "The build server needs a new certificate next month.",
    "Alice suggested we try the blue theme for the dashboard.",
    "Lunch today is at the small Italian place downtown.",
]
NEW_LINE = "Please review the pull request about caching tonight."
X, Y0, STEP = 60, 60, 34


def font(size: int = 20) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if FONT.exists():
        return ImageFont.truetype(str(FONT), size)
    return ImageFont.load_default(size=size)


def page(lines: list[str], mode: str = "RGB", dark: bool = False) -> Image.Image:
    """Lines of text, black on white, light grey on near-black, or black on transparent."""
    paper, ink = ((30, 30, 35), (220, 220, 220)) if dark else ((255, 255, 255), (0, 0, 0))
    img = Image.new(mode, SIZE, (*paper, 0) if mode == "RGBA" else paper)
    d = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        d.text((X, Y0 + i * STEP), line, fill=(*ink, 255) if mode == "RGBA" else ink, font=font())
    return img


def drawn_words(lines: list[str]) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Each drawn word with its pixel bbox, as PIL laid it out."""
    d = ImageDraw.Draw(Image.new("L", (1, 1)))
    out = []
    for i, line in enumerate(lines):
        x = X
        for word in line.split(" "):
            out.append((word, d.textbbox((x, Y0 + i * STEP), word, font=font())))
            x += d.textlength(word + " ", font=font())
    return out


def norm(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def recall(expected: list[str], text: str) -> float:
    found = norm(text)
    words = [w for line in expected for w in norm(line)]
    return sum(1 for w in words if w in found) / len(words)


def check_offsets(result: OcrResult) -> None:
    lines = [ln for ln in result.text.split("\n") if ln]
    for w in result.words:
        assert result.text[w.char_start : w.char_end] == w.text
        assert w.text in lines[w.line].split(" ")


def test_tesseract_is_available() -> None:
    ok, version = tesseract_available()
    assert ok, version
    assert version[0].isdigit()


def test_full_frame_finds_the_sentences_where_they_were_drawn() -> None:
    result = ocr_image(page(SENTENCES))
    assert recall(SENTENCES, result.text) >= 0.9
    assert len(result.text.split("\n")) == len(SENTENCES)
    assert result.pixels == SIZE[0] * SIZE[1] and result.seconds > 0
    check_offsets(result)
    boxes = {}
    for word, box in drawn_words(SENTENCES):
        boxes.setdefault(word.strip(".,"), []).append(box)
    matched = 0
    for w in result.words:
        for x0, y0, x1, y1 in boxes.get(w.text.strip(".,"), []):
            cx, cy = w.left + w.width / 2, w.top + w.height / 2
            if x0 - 4 <= cx <= x1 + 4 and y0 - 4 <= cy <= y1 + 4:
                matched += 1
                break
    assert matched >= 0.9 * len(result.words)


def test_downscaled_ocr_keeps_boxes_in_original_coordinates() -> None:
    full = ocr_image(page(SENTENCES))
    small = ocr_image(page(SENTENCES), scale=0.75)
    assert small.pixels < full.pixels
    assert recall(SENTENCES, small.text) >= 0.9
    firsts = {w.text: w for w in full.words}
    near = [w for w in small.words if w.text in firsts and abs(w.left - firsts[w.text].left) <= 4]
    assert len(near) >= 0.8 * len(small.words)
    with pytest.raises(ValueError, match="0.75"):
        ocr_image(page(SENTENCES), scale=0.5)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_regions_read_the_new_line_and_keep_the_old_text(dark: bool) -> None:
    before, after = page(SENTENCES, dark=dark), page([*SENTENCES, NEW_LINE], dark=dark)
    det = ChangeDetector()
    det.accept(0, before)
    change = det.check(0, after)
    assert change.changed and len(change.boxes) == 1
    previous = ocr_image(before)
    full = ocr_image(after)
    merged = ocr_regions(after, change.boxes, previous)
    assert recall([NEW_LINE], merged.text) >= 0.9
    assert recall(SENTENCES, merged.text) >= 0.9
    assert merged.text.split("\n")[: len(SENTENCES)] == previous.text.split("\n")
    assert merged.text == full.text  # the merge reproduces a full-frame read
    assert 0 < merged.pixels < full.pixels / 10
    check_offsets(merged)


def test_region_in_the_middle_of_a_line_rebuilds_that_line() -> None:
    before = page(SENTENCES)
    lines = list(SENTENCES)
    lines[2] = lines[2].replace("Thursday", "Saturday")
    after = page(lines)
    det = ChangeDetector(threshold=0.0, sprite=(0, 0))
    det.accept(0, before)
    change = det.check(0, after)
    assert change.changed
    previous = ocr_image(before)
    merged = ocr_regions(after, change.boxes, previous)
    assert "Saturday" in merged.text and "Thursday" not in merged.text
    assert recall(lines, merged.text) >= 0.9
    old, new = previous.text.split("\n"), merged.text.split("\n")
    assert len(new) == len(old)  # no line split or spliced twice
    assert new[2].startswith("Our meeting with the design team")  # the line stays whole
    assert new[:2] == old[:2] and new[4:] == old[4:]  # lines away from the box untouched
    assert merged.pixels < previous.pixels / 5
    check_offsets(merged)


def test_regions_fall_back_to_full_frame() -> None:
    img = page(SENTENCES)
    assert ocr_regions(img, [(0, 0, 1280, 800)], None).pixels == SIZE[0] * SIZE[1]
    previous = ocr_image(img)
    big = ocr_regions(img, [(0, 0, 1280, 600)], previous)  # 75 % of the frame
    assert big.pixels == SIZE[0] * SIZE[1]
    assert big.text == previous.text
    same = ocr_regions(img, [], previous)
    assert (same.text, same.words, same.pixels) == (previous.text, previous.words, 0)


def test_blank_image_gives_empty_text() -> None:
    result = ocr_image(Image.new("RGB", SIZE, "white"))
    assert result.text == "" and result.words == ()


def test_transparent_image_is_read_on_white() -> None:
    result = ocr_image(page(SENTENCES[:2], mode="RGBA"))
    assert recall(SENTENCES[:2], result.text) >= 0.9


def test_image_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    page(SENTENCES[:1]).save(path)
    assert recall(SENTENCES[:1], ocr_image(path).text) >= 0.9


def test_bad_images_raise_ocr_error(tmp_path: Path) -> None:
    with pytest.raises(OcrError, match="empty image"):
        ocr_image(Image.new("RGB", (0, 0)))
    corrupt = tmp_path / "corrupt.png"
    data = (tmp_path / "ok.png").with_suffix(".png")
    page(SENTENCES[:1]).save(data)
    corrupt.write_bytes(data.read_bytes()[:200])
    with pytest.raises(OcrError, match="cannot read image"):
        ocr_image(corrupt)
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(OcrError, match="cannot read image"):
        ocr_image(tmp_path / "junk.png")
    with pytest.raises(OcrError, match="PIL image"):
        ocr_image(b"\x89PNG")  # type: ignore[arg-type]


def test_missing_tesseract_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(OcrError, match="apt-get install tesseract-ocr"):
        ocr_image(page(SENTENCES[:1]))
    ok, reason = tesseract_available()
    assert not ok and "apt-get install tesseract-ocr" in reason


def test_missing_language_and_timeout_raise_ocr_error() -> None:
    with pytest.raises(OcrError, match="tesseract-ocr-xyz"):
        ocr_image(page(SENTENCES[:1]), lang="xyz")
    with pytest.raises(OcrError, match="no answer within"):
        ocr_image(page(SENTENCES), timeout=0.001)
