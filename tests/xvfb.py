"""Pytest plugin: real Xvfb servers and real X windows for capture and OCR tests.

Fixtures:

- ``xvfb_server``: the session's one ``Xvfb -screen 0 1280x800x24 -nolisten tcp`` on a free display
  number (chosen by the server itself through ``-displayfd``), killed at the end of the session.
- ``xvfb_display`` (function): that server's ``":N"``, with ``DISPLAY`` set (and
  ``WAYLAND_DISPLAY`` unset) for the test only, restored afterwards. Tests that do not ask for
  it never see a display.
- ``xvfb_factory`` (function): ``start(number=None)`` gives a private :class:`Xvfb` the test may
  kill and restart; every server it started is stopped at teardown.

All of them skip (with the reason) only when the ``Xvfb`` binary is missing.

:func:`open_window` opens a real X window from a child process (python-xlib; the picture,
including ``text`` drawn with PIL in a ~28 px font, black on white by default, is the window's
background pixmap, so the server repaints it without the child's help). Xvfb runs no window
manager, so nobody maintains ``_NET_ACTIVE_WINDOW``: :meth:`XWindow.activate` plays the window
manager's part — it raises the window, gives it the input focus and writes its id into
``_NET_ACTIVE_WINDOW`` on the root window (what ``xprop -root -f _NET_ACTIVE_WINDOW 32x -set
_NET_ACTIVE_WINDOW <id>`` would do); ``xdotool windowactivate`` would need a real WM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

XVFB_SIZE = "1280x800x24"
T = TypeVar("T")


class Xvfb:
    """One Xvfb process; ``display`` is ``":N"``."""

    def __init__(self, number: int | None = None, size: str = XVFB_SIZE) -> None:
        binary = shutil.which("Xvfb")
        if binary is None:
            raise FileNotFoundError("Xvfb is not installed (apt-get install xvfb)")
        read_fd, write_fd = os.pipe()
        # stderr to a file, not a pipe: a full pipe would stall a long-lived server.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        cmd = [binary]
        if number is not None:
            cmd.append(f":{number}")
        cmd += ["-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"]
        self.proc = subprocess.Popen(
            cmd,
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,
        )
        os.close(write_fd)
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = os.read(read_fd, 64)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(read_fd)
        if not data.strip():
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self._log.seek(0)
            err = self._log.read()
            self._log.close()
            raise RuntimeError(f"Xvfb did not start: {err.decode(errors='replace')[-800:]}")
        self.number = int(data.strip())
        self.display = f":{self.number}"
        self.wait_ready()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until a client can connect (the displayfd line can come a little early)."""
        from Xlib import display as xdisplay
        from Xlib.error import DisplayError

        end = time.monotonic() + timeout
        while True:
            try:
                xdisplay.Display(self.display).close()
                return
            except (DisplayError, OSError):
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise RuntimeError(f"Xvfb {self.display} is not accepting clients") from None
                time.sleep(0.1)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the server vanishes the way a crashed X server does."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.kill()


def _need_xvfb() -> None:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb binary not found (apt-get install xvfb)")


class _Shared:
    """The session's server, restarted if something killed it (a test's own X restart)."""

    def __init__(self) -> None:
        self.server = Xvfb()

    def get(self) -> Xvfb:
        if not self.server.alive:
            self.server = Xvfb()
        return self.server


@pytest.fixture(scope="session")
def _xvfb_shared() -> Iterator[_Shared]:
    _need_xvfb()
    shared = _Shared()
    yield shared
    shared.server.stop()


@pytest.fixture
def xvfb_server(_xvfb_shared: _Shared) -> Xvfb:
    return _xvfb_shared.get()


@pytest.fixture
def xvfb_display(xvfb_server: Xvfb, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DISPLAY", xvfb_server.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xvfb_server.display


class XvfbFactory:
    def __init__(self) -> None:
        self.servers: list[Xvfb] = []

    def start(self, number: int | None = None) -> Xvfb:
        server = Xvfb(number)
        self.servers.append(server)
        return server


@pytest.fixture
def xvfb_factory() -> Iterator[XvfbFactory]:
    _need_xvfb()
    factory = XvfbFactory()
    yield factory
    for server in factory.servers:
        server.stop()


# --- windows ----------------------------------------------------------------------------------

_CHILD = r"""
import json, os, sys
from PIL import Image, ImageDraw, ImageFont
from Xlib import X, Xatom, display

spec = json.loads(sys.argv[1])
d = display.Display(spec["display"])
screen = d.screen()
font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
size = spec["font_size"]
font = ImageFont.truetype(font_path, size) if os.path.exists(font_path) else ImageFont.load_default(size)
text = spec["text"] or ""
margin = 24
width, height = spec["width"], spec["height"]
if text:
    box = ImageDraw.Draw(Image.new("RGB", (1, 1))).multiline_textbbox((0, 0), text, font=font, spacing=size // 2)
    width = width or box[2] + 2 * margin
    height = height or box[3] + 2 * margin
width, height = width or 320, height or 120
image = Image.new("RGB", (width, height), spec["background"])
if text:
    ImageDraw.Draw(image).multiline_text((margin, margin), text, fill=spec["foreground"], font=font, spacing=size // 2)
pixmap = screen.root.create_pixmap(width, height, screen.root_depth)
gc = pixmap.create_gc()
pixmap.put_pil_image(gc, 0, 0, image)
win = screen.root.create_window(
    spec["x"], spec["y"], width, height, 0, screen.root_depth,
    X.InputOutput, X.CopyFromParent, background_pixmap=pixmap,
)
win.set_wm_class(spec["wm_class"].lower(), spec["wm_class"])
utf8 = d.intern_atom("UTF8_STRING")
title = spec["title"]
if spec["net_wm_name"]:
    win.change_property(d.intern_atom("_NET_WM_NAME"), utf8, 8, title.encode("utf-8"))
    win.change_property(Xatom.WM_NAME, utf8, 8, title.encode("utf-8"))
else:
    win.change_property(Xatom.WM_NAME, Xatom.STRING, 8, title.encode("latin-1"))
win.change_property(d.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [os.getpid()])
win.map()
d.sync()
print(win.id, width, height, flush=True)
sys.stdin.read()
"""


def set_active_window(window_id: int, display: str | None = None) -> None:
    """Do the WM's job: raise and focus ``window_id`` (0 = none) and publish it as active."""
    from Xlib import X, Xatom
    from Xlib import display as xdisplay

    d = xdisplay.Display(display or os.environ["DISPLAY"])
    try:
        root = d.screen().root
        if window_id:
            win = d.create_resource_object("window", window_id)
            win.configure(stack_mode=X.Above)
            win.set_input_focus(X.RevertToPointerRoot, X.CurrentTime)
        else:
            d.set_input_focus(X.PointerRoot, X.RevertToPointerRoot, X.CurrentTime)
        root.change_property(d.intern_atom("_NET_ACTIVE_WINDOW"), Xatom.WINDOW, 32, [window_id])
        d.sync()
    finally:
        d.close()


class XWindow:
    """A window owned by a child process; it disappears when the child exits."""

    def __init__(self, proc: subprocess.Popen[str], display: str) -> None:
        self.proc = proc
        self.display = display
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            err = proc.communicate(timeout=10)[1]
            raise RuntimeError(f"test window did not open: {err[-800:]}")
        wid, width, height = (int(v) for v in line.split())
        self.window_id = wid
        self.width = width
        self.height = height
        self.pid = proc.pid

    def activate(self) -> None:
        set_active_window(self.window_id, self.display)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        # A WM would forget a closed window; so does our stand-in.
        try:
            from Xlib import X
            from Xlib import display as xdisplay

            d = xdisplay.Display(self.display)
        except Exception:
            return  # the server is gone already
        try:
            atom = d.intern_atom("_NET_ACTIVE_WINDOW")
            prop = d.screen().root.get_full_property(atom, X.AnyPropertyType)
            if prop is not None and len(prop.value) and int(prop.value[0]) == self.window_id:
                set_active_window(0, self.display)
        finally:
            d.close()

    def __enter__(self) -> XWindow:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_window(
    title: str,
    wm_class: str,
    text: str | None = None,
    *,
    display: str | None = None,
    x: int = 0,
    y: int = 0,
    width: int | None = None,
    height: int | None = None,
    background: str = "white",
    foreground: str = "black",
    font_size: int = 28,
    net_wm_name: bool = True,
    activate: bool = True,
) -> XWindow:
    """Open a real X window at (x, y) and, by default, make it the active one.

    The size defaults to fit ``text`` (or 320x120 without text). ``net_wm_name=False`` sets only
    a Latin-1 ``WM_NAME``, as old toolkits do. Close it with ``.close()`` or ``with``.
    """
    import json

    disp = display or os.environ.get("DISPLAY")
    if not disp:
        raise RuntimeError("open_window needs a display: use the xvfb_display fixture")
    spec = {
        "display": disp,
        "title": title,
        "wm_class": wm_class,
        "text": text,
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        "background": background,
        "foreground": foreground,
        "font_size": font_size,
        "net_wm_name": net_wm_name,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    window = XWindow(proc, disp)
    if activate:
        window.activate()
    return window


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; return that (or the last value)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)
