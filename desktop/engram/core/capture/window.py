"""The foreground window: app, title, pid (and whether it is a private browsing window).

Linux/X11 reads the EWMH properties the window manager keeps (``_NET_ACTIVE_WINDOW`` on the
root, then ``WM_CLASS``, ``_NET_WM_NAME``/``WM_NAME`` and ``_NET_WM_PID`` on that window)
through python-xlib, one connection per thread, re-opened when the X server restarts.

Wayland: GNOME and KDE do not tell ordinary clients which window has focus (there is no
protocol for it), so on a Wayland session without ``DISPLAY`` :func:`active_window` returns
None after logging a note once. Capture still works there; privacy rules then cannot match
on app or title, only on what the frames themselves contain.

macOS uses NSWorkspace (pyobjc, when installed; it gives the app, not the window title), and
Windows uses user32 through ctypes (plus psutil for the process name, when installed).
``WindowInfo.private`` is filled by :func:`engram.core.capture.privacy.is_private_window`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

from engram.core.capture.privacy import is_private_window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowInfo:
    """What is known about a window; ``url`` only where a platform reports it."""

    app: str
    title: str
    pid: int | None = None
    url: str | None = None
    private: bool = False


def _info(app: str, title: str, pid: int | None) -> WindowInfo:
    return WindowInfo(app=app, title=title, pid=pid, private=is_private_window(app, title))


# --- X11 ---------------------------------------------------------------------------------

_local = threading.local()


def x11_display() -> Any | None:
    """This thread's python-xlib Display for ``$DISPLAY``, or None when it cannot connect.

    The connection is cached per thread and per ``$DISPLAY`` value; callers that hit a
    connection error call :func:`x11_reset` so the next call reconnects.
    """
    name = os.environ.get("DISPLAY")
    if not name:
        return None
    cached = getattr(_local, "display", None)
    if cached is not None and getattr(_local, "name", None) == name:
        return cached
    x11_reset()
    try:
        from Xlib import display as xdisplay
        from Xlib import error as xerror

        try:
            disp = xdisplay.Display(name)
        except (xerror.DisplayError, OSError) as exc:
            log.debug("cannot connect to X display %s: %s", name, exc)
            return None
    except ImportError:  # python-xlib is a dependency on Linux; other platforms never get here
        return None
    _local.display, _local.name = disp, name
    return disp


def x11_reset() -> None:
    """Forget this thread's X connection (after the server went away)."""
    disp = getattr(_local, "display", None)
    _local.display = None
    _local.name = None
    if disp is not None:
        try:
            disp.close()
        except Exception:  # the socket is usually dead already
            log.debug("closing X display", exc_info=True)


def _x11_text(win: Any, disp: Any, atom_name: str, fallback_atom: int) -> str:
    from Xlib import X

    utf8 = disp.intern_atom("UTF8_STRING")
    prop = win.get_full_property(disp.intern_atom(atom_name), utf8)
    if prop is not None and prop.value:
        return _decode(prop.value, utf8=True)
    prop = win.get_full_property(fallback_atom, X.AnyPropertyType)
    if prop is None or not prop.value:
        return ""
    return _decode(prop.value, utf8=prop.property_type == utf8)


def _decode(value: Any, *, utf8: bool) -> str:
    raw = value if isinstance(value, bytes | bytearray) else bytes(value)
    raw = bytes(raw).rstrip(b"\0")
    if utf8:
        return raw.decode("utf-8", "replace")
    try:  # COMPOUND_TEXT of plain UTF-8 is common in practice; STRING is Latin-1 by spec
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _x11_client_window(disp: Any) -> Any | None:
    """The focused client window: EWMH first, else the input focus walked up to a client."""
    from Xlib import X, Xatom

    root = disp.screen().root
    active_atom = disp.intern_atom("_NET_ACTIVE_WINDOW")
    prop = root.get_full_property(active_atom, X.AnyPropertyType)
    if prop is not None:
        wid = int(prop.value[0]) if prop.format == 32 and len(prop.value) else 0
        return disp.create_resource_object("window", wid) if wid else None
    # No EWMH window manager: follow the keyboard focus up to a window that has WM_CLASS.
    focus = disp.get_input_focus().focus
    if isinstance(focus, int) or focus == X.NONE:  # PointerRoot / None
        return None
    win = focus
    while win is not None and win.id != root.id:
        if win.get_full_property(Xatom.WM_CLASS, Xatom.STRING) is not None:
            return win
        win = win.query_tree().parent
    return None


def _x11_client_info(win: Any, disp: Any) -> WindowInfo:
    """App (``WM_CLASS`` class), title and pid of a client window."""
    from Xlib import Xatom

    wm_class = win.get_wm_class()  # (instance, class) or None
    app = ""
    if wm_class:
        app = wm_class[1] or wm_class[0] or ""
    title = _x11_text(win, disp, "_NET_WM_NAME", Xatom.WM_NAME)
    pid_prop = win.get_full_property(disp.intern_atom("_NET_WM_PID"), Xatom.CARDINAL)
    pid = int(pid_prop.value[0]) if pid_prop is not None and len(pid_prop.value) else None
    return _info(app, title, pid)


def _x11_active_window(retry: bool = True) -> WindowInfo | None:
    from Xlib import error as xerror

    disp = x11_display()
    if disp is None:
        return None
    try:
        win = _x11_client_window(disp)
        if win is None:
            return None
        return _x11_client_info(win, disp)
    except (xerror.BadWindow, xerror.BadDrawable, xerror.BadMatch):
        return None  # the window closed while we were reading it
    except (xerror.ConnectionClosedError, xerror.XError, OSError) as exc:
        log.debug("X connection failed (%s); reconnecting", exc)
        x11_reset()
        # The server may have restarted since we connected: one fresh try.
        return _x11_active_window(retry=False) if retry else None


@dataclass(frozen=True)
class ScreenWindow:
    """A window shown on screen: who it belongs to and where (root coordinates).

    ``rect`` is (left, top, right, bottom); ``info`` is None for a window with no client
    (a frame, panel or menu that carries no ``WM_CLASS``).
    """

    info: WindowInfo | None
    rect: tuple[int, int, int, int]


def _x11_find_client(win: Any, depth: int = 2) -> Any | None:
    """The client window at or under a top-level window (window managers add frames)."""
    from Xlib import Xatom

    if win.get_full_property(Xatom.WM_CLASS, Xatom.STRING) is not None:
        return win
    if depth == 0:
        return None
    for child in win.query_tree().children:
        found = _x11_find_client(child, depth - 1)
        if found is not None:
            return found
    return None


def _x11_visible_windows() -> list[ScreenWindow] | None:
    from Xlib import X
    from Xlib import error as xerror

    disp = x11_display()
    if disp is None:
        return None
    out: list[ScreenWindow] = []
    try:
        root = disp.screen().root
        for top in root.query_tree().children:  # bottom-to-top stacking order
            try:
                if top.get_attributes().map_state != X.IsViewable:
                    continue
                geo = top.get_geometry()
                border = 2 * geo.border_width
                rect = (geo.x, geo.y, geo.x + geo.width + border, geo.y + geo.height + border)
                client = _x11_find_client(top)
                info = _x11_client_info(client, disp) if client is not None else None
            except (xerror.BadWindow, xerror.BadDrawable, xerror.BadMatch):
                continue  # closed while we looked: it is not on screen any more
            out.append(ScreenWindow(info, rect))
    except (xerror.ConnectionClosedError, xerror.XError, OSError) as exc:
        log.debug("X connection failed while listing windows (%s)", exc)
        x11_reset()
        return None
    return out


_wayland_noted = False


def _note_wayland() -> None:
    global _wayland_noted
    if not _wayland_noted:
        _wayland_noted = True
        log.info(
            "Wayland session: the compositor does not expose the focused window to apps, so "
            "app/title exclusion rules cannot apply; capture continues"
        )


# --- macOS and Windows ----------------------------------------------------------------------


def _mac_active_window() -> WindowInfo | None:
    try:
        from AppKit import NSWorkspace  # pyobjc
    except ImportError:
        return None
    app = NSWorkspace.sharedWorkspace().frontmostApplication()
    if app is None:
        return None
    name = str(app.localizedName() or app.bundleIdentifier() or "")
    # Window titles need the Screen Recording/Accessibility permission; the app is enough here.
    return _info(name, "", int(app.processIdentifier()))


def _win_active_window() -> WindowInfo | None:
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
    user32.GetForegroundWindow.restype = wintypes.HWND
    user32.GetWindowTextLengthW.argtypes = [wintypes.HWND]
    user32.GetWindowTextW.argtypes = [wintypes.HWND, wintypes.LPWSTR, ctypes.c_int]
    user32.GetWindowThreadProcessId.argtypes = [wintypes.HWND, ctypes.POINTER(wintypes.DWORD)]
    hwnd = user32.GetForegroundWindow()
    if not hwnd:
        return None
    length = user32.GetWindowTextLengthW(hwnd)
    buf = ctypes.create_unicode_buffer(length + 1)
    user32.GetWindowTextW(hwnd, buf, length + 1)
    pid_out = wintypes.DWORD(0)
    user32.GetWindowThreadProcessId(hwnd, ctypes.byref(pid_out))
    pid = int(pid_out.value) or None
    app = ""
    if pid is not None:
        try:
            import psutil

            app = psutil.Process(pid).name()
        except Exception:  # psutil missing, or the process is gone / protected
            app = ""
    if app.lower().endswith(".exe"):
        app = app[:-4]
    return _info(app, buf.value, pid)


# --- dispatch ---------------------------------------------------------------------------------


def active_window() -> WindowInfo | None:
    """The window that has focus now, or None when there is none or it cannot be known."""
    try:
        if sys.platform == "darwin":
            return _mac_active_window()
        if sys.platform == "win32":
            return _win_active_window()
        if not os.environ.get("DISPLAY"):
            if os.environ.get("WAYLAND_DISPLAY"):
                _note_wayland()
            return None
        return _x11_active_window()
    except Exception:  # never let a platform quirk break the capture loop
        log.warning("could not read the active window", exc_info=True)
        return None


def visible_windows() -> list[ScreenWindow] | None:
    """Every window on screen, bottom to top, or None where the platform cannot list them.

    X11 only: macOS and Windows need extra permissions or APIs for other apps' geometry,
    and Wayland does not expose it at all. There, only the focused window is checked.
    """
    if sys.platform in ("darwin", "win32") or not os.environ.get("DISPLAY"):
        return None
    try:
        return _x11_visible_windows()
    except Exception:  # never let a platform quirk break the capture loop
        log.warning("could not list the windows on screen", exc_info=True)
        return None
