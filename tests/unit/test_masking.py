"""Blacking out excluded windows that are on screen: rectangle maths and the capture tick."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from engram.core.capture.grab import Monitor, Shot
from engram.core.capture.masking import area, disjoint, hidden_regions, subtract, to_image
from engram.core.capture.scheduler import CaptureLoop
from engram.core.capture.window import ScreenWindow, WindowInfo
from engram.core.config import Settings

coord = st.integers(min_value=0, max_value=60)


@st.composite
def rects(draw):
    x0, y0 = draw(coord), draw(coord)
    return (x0, y0, x0 + draw(st.integers(1, 40)), y0 + draw(st.integers(1, 40)))


def _cells(rs):
    return {(x, y) for x0, y0, x1, y1 in rs for x in range(x0, x1) for y in range(y0, y1)}


@given(rects(), rects())
def test_subtract_leaves_exactly_the_uncovered_cells(rect, cut):
    pieces = subtract(rect, cut)
    assert len(pieces) <= 4
    assert _cells(pieces) == _cells([rect]) - _cells([cut])
    assert area(pieces) == len(_cells(pieces))  # no two pieces overlap


@given(st.lists(rects(), max_size=6))
def test_disjoint_covers_the_same_cells_without_overlap(rs):
    out = disjoint(rs)
    assert _cells(out) == _cells(rs)
    assert area(out) == len(_cells(out))


VAULT = WindowInfo("KeePassXC", "Passwords.kdbx - KeePassXC")
EDITOR = WindowInfo("gedit", "plan.md - gedit")


def _excluded(info):
    return "app" if info is not None and info.app == "KeePassXC" else None


def test_only_the_uncovered_part_of_an_excluded_window_is_hidden():
    windows = [
        ScreenWindow(VAULT, (0, 0, 100, 100)),
        ScreenWindow(EDITOR, (50, 0, 150, 100)),  # covers the vault's right half
        ScreenWindow(None, (0, 0, 100, 20)),  # a frame/overlay: may be translucent
    ]
    assert hidden_regions(windows, _excluded) == [(0, 0, 50, 100)]
    # an excluded window above everything is hidden whole, editor or not
    top = ScreenWindow(VAULT, (40, 10, 80, 30))
    assert hidden_regions([*windows, top], _excluded) == [(0, 0, 50, 100), (50, 10, 80, 30)]


def test_regions_move_into_each_monitor_and_are_clipped():
    regions = [(1900, 100, 2100, 300)]
    assert to_image(regions, 0, 0, 1920, 1080) == [(1900, 100, 1920, 300)]
    assert to_image(regions, 1920, 0, 1280, 1024) == [(0, 100, 180, 300)]
    assert to_image(regions, 0, 1080, 1920, 1080) == []


class _Grabber:
    """Shots of a scripted screen: each grab returns the next image (the last repeats)."""

    def __init__(self, images):
        self.images = list(images)
        self.grabs = 0

    def grab(self):
        image = self.images[min(self.grabs, len(self.images) - 1)]
        self.grabs += 1
        return [Shot(Monitor(1, 0, 0, image.width, image.height), image, datetime.now(UTC))]

    def close(self):
        pass


def _screen(vault_visible: bool) -> Image.Image:
    img = Image.new("RGB", (200, 100), "white")
    if vault_visible:
        img.paste((200, 30, 30), (100, 0, 200, 100))
    return img


def _loop(svc, grabber, focus, layouts):
    layouts = iter(layouts)
    return CaptureLoop(
        svc.perceiver,
        Settings(min_free_gb=0, idle_seconds=86400),
        svc.paths.data,
        grabber_factory=lambda: grabber,
        window_probe=lambda: focus,
        layout_probe=lambda: next(layouts),
    )


def _queued(loop):
    frames = []
    while not loop._queue.empty():
        frames.append(loop._queue.get_nowait())
    return frames


def test_a_window_mapped_during_the_grab_is_blacked_out(svc):
    """The race CI once hit: the vault maps after the focus check, before the grab."""
    editor = ScreenWindow(EDITOR, (0, 0, 200, 100))
    vault = ScreenWindow(VAULT, (100, 0, 200, 100))
    # listed only after the grab; the focus check before it saw just the editor
    loop = _loop(svc, _Grabber([_screen(True)]), EDITOR, [[editor], [editor, vault]])
    assert loop.tick() == "capturing"
    (frame,) = _queued(loop)
    right = frame.image.crop((100, 0, 200, 100))
    assert right.getextrema() == ((0, 0), (0, 0), (0, 0))  # never saw the vault's pixels
    assert frame.image.getpixel((10, 10)) == (255, 255, 255)


def test_focus_moving_during_the_grab_drops_the_frame(svc):
    focus = iter([EDITOR, WindowInfo("firefox", "News - Mozilla Firefox", pid=9)])
    loop = _loop(svc, _Grabber([_screen(False)]), None, [None, None])
    loop._window_probe = lambda: next(focus)
    assert loop.tick() == "capturing"
    assert _queued(loop) == []  # attribution unknown: the next tick tries again


def test_focus_moving_to_an_excluded_window_during_the_grab_is_excluded(svc):
    focus = iter([EDITOR, VAULT])
    loop = _loop(svc, _Grabber([_screen(True)]), None, [None, None])
    loop._window_probe = lambda: next(focus)
    before = svc.counters()["captures_excluded"]
    assert loop.tick() == "excluded"
    assert _queued(loop) == []
    assert svc.counters()["captures_excluded"] == before + 1


def test_stale_masks_never_hide_a_change(svc):
    """After the vault closes, what it covered is seen even though it was masked before."""
    editor = ScreenWindow(EDITOR, (0, 0, 200, 100))
    vault = ScreenWindow(VAULT, (100, 0, 200, 100))
    grabber = _Grabber([_screen(True)])
    loop = _loop(svc, grabber, EDITOR, [[editor, vault], [editor, vault], [editor], [editor]])
    loop.tick()
    (first,) = _queued(loop)
    svc.perceiver.detector.accept(1, first.image)
    revealed = _screen(False)
    revealed.paste((20, 20, 200), (120, 20, 180, 80))  # new content where the vault was
    grabber.images, grabber.grabs = [revealed], 0
    loop.tick()
    (second,) = _queued(loop)
    assert second.image.getpixel((150, 50)) == (20, 20, 200)
