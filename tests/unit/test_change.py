"""Change detection on synthetic desktop frames rendered with PIL."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from engram.core.capture.change import Change, ChangeDetector

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TEXT = [
    "def total(items):",
    "    return sum(item.price * item.qty for item in items)",
    "",
    "class Cart:",
    "    def __init__(self):",
    "        self.items = []",
]
NEW_LINE = "    def add(self, item): self.items.append(item)"


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_DIR / "DejaVuSans.ttf"
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def desktop(
    size: tuple[int, int] = (1280, 800),
    lines: list[str] = TEXT,
    clock: str = "10:41",
    scroll: int = 0,
    cursor: tuple[int, int] | None = None,
    cursor_scale: int = 1,
) -> Image.Image:
    """A top bar with a clock, a file sidebar and an editor with ``lines`` of code."""
    w, h = size
    img = Image.new("RGB", size, (250, 250, 250))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 27), fill=(36, 36, 40))
    d.text((12, 5), "Activities   Editor", fill="white", font=font(14))
    d.text((w - 60, 5), clock, fill="white", font=font(14))
    d.rectangle((0, 28, 219, h), fill=(228, 230, 236))
    for i, name in enumerate(["cart.py", "shop.py", "tests.py", "README.md"]):
        d.text((16, 48 + i * 26), name, fill=(30, 30, 30), font=font(15))
    for i, line in enumerate(lines):
        d.text((250, 48 + i * 26 - scroll), line, fill=(20, 20, 20), font=font(16))
    if cursor is not None:
        img.paste(arrow(cursor_scale), cursor, arrow(cursor_scale))
    return img


def arrow(scale: int = 1) -> Image.Image:
    """A 16x24 (times ``scale``) mouse pointer with a white outline, as RGBA."""
    a = Image.new("RGBA", (16, 24), (0, 0, 0, 0))
    d = ImageDraw.Draw(a)
    d.polygon([(0, 0), (0, 21), (5, 16), (9, 23), (12, 22), (8, 15), (15, 15)], fill="black")
    d.line([(0, 0), (0, 21), (5, 16), (9, 23), (12, 22), (8, 15), (15, 15), (0, 0)], "white")
    return a.resize((16 * scale, 24 * scale)) if scale > 1 else a


def other_app(size: tuple[int, int]) -> Image.Image:
    """A dark browser-like frame: nothing in common with ``desktop``."""
    w, h = size
    img = Image.new("RGB", size, (20, 24, 32))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 60), fill=(70, 20, 90))
    for i in range(0, h - 100, 40):
        d.text((40, 90 + i), f"News headline number {i} about markets", (230,) * 3, font(22))
    return img


def kept(det: ChangeDetector, img: Image.Image, key: int = 0) -> Change:
    change = det.check(key, img)
    if change.changed:
        det.accept(key, img)
    return change


SIZES = [(1280, 800), (1920, 1080)]


def test_first_frame_is_changed_with_one_full_box() -> None:
    change = ChangeDetector().check(0, desktop())
    assert change.changed and change.boxes == ((0, 0, 1280, 800),)


@pytest.mark.parametrize("size", SIZES)
def test_identical_frame_is_not_changed(size: tuple[int, int]) -> None:
    det = ChangeDetector()
    kept(det, desktop(size))
    change = det.check(0, desktop(size))
    assert change == Change(False, 0.0, ())


@pytest.mark.parametrize("scale", [1, 2])
@pytest.mark.parametrize("size", SIZES)
def test_cursor_moving_is_not_a_change(size: tuple[int, int], scale: int) -> None:
    det = ChangeDetector()
    kept(det, desktop(size, cursor=(600, 400), cursor_scale=scale))
    # near, far, straight down, over text, sidebar and top bar
    for pos in [(610, 415), (640, 430), (600, 431), (300, 60), (5, 5), (900, 70)]:
        change = det.check(0, desktop(size, cursor=pos, cursor_scale=scale))
        assert not change.changed, (pos, change)
        assert change.score < det.threshold


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("before", "after"), [("10:41", "10:42"), ("10:59", "11:00")])
def test_ticking_clock_is_not_a_change(size: tuple[int, int], before: str, after: str) -> None:
    det = ChangeDetector()
    kept(det, desktop(size, clock=before))
    assert not det.check(0, desktop(size, clock=after)).changed


@pytest.mark.parametrize("size", SIZES)
def test_clock_and_cursor_together_are_not_a_change(size: tuple[int, int]) -> None:
    det = ChangeDetector()
    kept(det, desktop(size, clock="09:59", cursor=(500, 300)))
    assert not det.check(0, desktop(size, clock="10:00", cursor=(520, 340))).changed


@pytest.mark.parametrize("size", SIZES)
def test_typed_line_is_a_change_with_one_box_around_it(size: tuple[int, int]) -> None:
    det = ChangeDetector()
    kept(det, desktop(size))
    change = det.check(0, desktop(size, lines=[*TEXT, NEW_LINE]))
    assert change.changed
    assert len(change.boxes) == 1
    left, top, right, bottom = change.boxes[0]
    y = 48 + len(TEXT) * 26
    tl, tt, tr, tb = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((250, y), NEW_LINE, font(16))
    assert left <= tl and top <= tt and right >= tr and bottom >= tb  # covers the new line
    cell = det.cell
    assert left >= tl - 2 * cell and right <= tr + 2 * cell  # and not much more
    assert top >= tt - 2 * cell and bottom <= tb + 2 * cell


@pytest.mark.parametrize("size", SIZES)
def test_scroll_is_a_change(size: tuple[int, int]) -> None:
    det = ChangeDetector()
    lines = [f"{n:>3}  line of a long file with words {n * 7}" for n in range(40)]
    kept(det, desktop(size, lines=lines))
    change = det.check(0, desktop(size, lines=lines, scroll=40))
    assert change.changed
    left, top, right, bottom = change.boxes[0]
    assert left <= 250 and top <= 48 and bottom >= min(size[1], 48 + 26 * 30)


@pytest.mark.parametrize("size", SIZES)
def test_app_switch_is_a_change_covering_the_frame(size: tuple[int, int]) -> None:
    det = ChangeDetector()
    kept(det, desktop(size))
    change = det.check(0, other_app(size))
    assert change.changed and change.score > 0.5
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in change.boxes)
    assert area >= 0.9 * size[0] * size[1]


def test_size_change_is_a_change_with_a_full_box() -> None:
    det = ChangeDetector()
    kept(det, desktop((1280, 800)))
    change = det.check(0, desktop((1920, 1080)))
    assert change.changed and change.boxes == ((0, 0, 1920, 1080),)


def test_compares_with_last_kept_frame_so_small_edits_accumulate() -> None:
    det = ChangeDetector()
    kept(det, desktop())
    words = NEW_LINE.split()
    verdicts = []
    for n in range(1, len(words) + 1):
        verdicts.append(kept(det, desktop(lines=[*TEXT, " ".join(words[:n])])).changed)
    assert not verdicts[0]  # one short word alone is below the threshold
    assert any(verdicts)  # but the words add up against the last kept frame


def test_check_does_not_record_and_accept_does() -> None:
    det = ChangeDetector()
    kept(det, desktop())
    typed = desktop(lines=[*TEXT, NEW_LINE])
    assert det.check(0, typed).changed
    assert det.check(0, typed).changed  # not accepted: still compared with the old frame
    det.accept(0, typed)
    assert not det.check(0, typed).changed


def test_monitors_are_independent_and_reset_forgets() -> None:
    det = ChangeDetector()
    kept(det, desktop(), key=0)
    assert det.check(1, desktop()).changed  # monitor 1 has no frame yet
    kept(det, desktop(), key=1)
    det.reset(0)
    assert det.check(0, desktop()).changed
    assert not det.check(1, desktop()).changed
    det.reset()
    assert det.check(1, desktop()).changed


def test_many_changes_are_capped_and_still_covered() -> None:
    det = ChangeDetector(max_boxes=3)
    size = (1920, 1080)
    kept(det, desktop(size))
    after = desktop(size)
    d = ImageDraw.Draw(after)
    spots = [(300 + (i % 5) * 320, 300 + (i // 5) * 250) for i in range(15)]
    for x, y in spots:
        d.rectangle((x, y, x + 90, y + 40), fill=(200, 40, 40))
    change = det.check(0, after)
    assert change.changed and len(change.boxes) == 3
    for x, y in spots:
        assert any(
            x0 <= x and y0 <= y and x1 >= x + 90 and y1 >= y + 40 for x0, y0, x1, y1 in change.boxes
        )


def test_bad_input_is_rejected_clearly() -> None:
    det = ChangeDetector()
    with pytest.raises(TypeError, match="PIL image"):
        det.check(0, b"not an image")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty frame"):
        det.check(0, Image.new("RGB", (0, 0)))
    with pytest.raises(ValueError):
        ChangeDetector(threshold=2.0)


def test_other_image_modes_are_accepted() -> None:
    det = ChangeDetector()
    kept(det, desktop().convert("RGBA"))
    assert not det.check(0, desktop().convert("RGBA")).changed
    assert det.check(0, other_app((1280, 800)).convert("P")).changed


rects = st.lists(
    st.tuples(
        st.integers(0, 1180), st.integers(0, 700), st.integers(40, 100), st.integers(40, 100)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(rects=rects, max_boxes=st.integers(1, 8))
def test_every_large_change_lies_inside_some_box(
    rects: list[tuple[int, int, int, int]], max_boxes: int
) -> None:
    """Each drawn 40..100 px rectangle is fully covered by one box, boxes stay in the frame."""
    det = ChangeDetector(threshold=0.0, max_boxes=max_boxes, sprite=(0, 0))
    base = Image.new("RGB", (1280, 800), "white")
    kept(det, base)
    after = base.copy()
    d = ImageDraw.Draw(after)
    for x, y, w, h in rects:
        d.rectangle((x, y, x + w - 1, y + h - 1), fill="black")
    change = det.check(0, after)
    assert change.changed and 1 <= len(change.boxes) <= max_boxes
    for x0, y0, x1, y1 in change.boxes:
        assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 800
    for x, y, w, h in rects:
        assert any(
            x0 <= x and y0 <= y and x1 >= x + w and y1 >= y + h for x0, y0, x1, y1 in change.boxes
        ), (x, y, w, h, change.boxes)
