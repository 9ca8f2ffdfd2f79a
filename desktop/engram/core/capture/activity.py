"""Is anyone at the screen? Idle time and screen lock, so capture can pause by itself.

Every probe answers None when it cannot know, and the capture loop treats unknown as active:
missing a pause is better than stopping capture on a desktop we do not understand. No probe
blocks for more than about half a second.

- idle, X11: the MIT-SCREEN-SAVER extension (server-side time since the last input event).
- idle, GNOME on Wayland: ``org.gnome.Mutter.IdleMonitor``; X11's answer would only count input
  to XWayland clients there, so it is not used on Wayland.
- lock, Linux: ``GetActive`` of the GNOME / freedesktop screensaver on the session D-Bus
  (jeepney), else ``loginctl show-session $XDG_SESSION_ID -p LockedHint``.
- macOS: Quartz (pyobjc, when installed); Windows: user32 through ctypes.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

from engram.core.capture.window import x11_display, x11_reset

log = logging.getLogger(__name__)

BUDGET = 0.5  # seconds any one probe may take
_RETRY_AFTER = 60.0  # seconds before a probe that found nothing is tried again

_SCREENSAVERS = (
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("org.freedesktop.ScreenSaver", "/ScreenSaver", "org.freedesktop.ScreenSaver"),
)

_local = threading.local()
_skip_until: dict[str, float] = {}


def _key(probe: str) -> str:
    """Negative results are remembered per session (bus address), not globally."""
    env = os.environ
    return f"{probe}|{env.get('DBUS_SESSION_BUS_ADDRESS', '')}|{env.get('XDG_SESSION_ID', '')}"


def _skipping(probe: str) -> bool:
    return time.monotonic() < _skip_until.get(_key(probe), 0.0)


def _skip(probe: str) -> None:
    _skip_until[_key(probe)] = time.monotonic() + _RETRY_AFTER


# --- session D-Bus ----------------------------------------------------------------------------


def _session_bus(deadline: float) -> Any | None:
    """This thread's jeepney connection to the session bus, or None."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    conn = getattr(_local, "bus", None)
    if conn is not None and getattr(_local, "bus_address", None) == address:
        return conn
    _drop_bus()
    try:
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return None
    try:
        conn = open_dbus_connection(
            bus="SESSION", auth_timeout=max(0.05, deadline - time.monotonic())
        )
    except Exception as exc:  # no bus address, refused, auth timeout
        log.debug("no session D-Bus: %s", exc)
        return None
    _local.bus, _local.bus_address = conn, address
    return conn


def _drop_bus() -> None:
    conn = getattr(_local, "bus", None)
    _local.bus = None
    if conn is not None:
        try:
            conn.close()
        except Exception:
            log.debug("closing D-Bus connection", exc_info=True)


def _dbus_call(deadline: float, name: str, path: str, iface: str, method: str) -> Any | None:
    """The first value a D-Bus method returns, or None on any error or timeout."""
    conn = _session_bus(deadline)
    if conn is None:
        return None
    from jeepney import DBusAddress, MessageType, new_method_call

    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    msg = new_method_call(DBusAddress(path, bus_name=name, interface=iface), method)
    try:
        reply = conn.send_and_get_reply(msg, timeout=remaining)
    except TimeoutError:
        return None
    except Exception as exc:  # the bus went away: reconnect next time
        log.debug("D-Bus call %s.%s failed: %s", iface, method, exc)
        _drop_bus()
        return None
    if reply.header.message_type == MessageType.error or not reply.body:
        return None
    return reply.body[0]


# --- idle -------------------------------------------------------------------------------------


def _x11_idle(retry: bool = True) -> float | None:
    disp = x11_display()
    if disp is None:
        return None
    try:
        if not disp.has_extension("MIT-SCREEN-SAVER"):
            return None
        info = disp.screen().root.screensaver_query_info()
        return max(0.0, int(info.idle) / 1000.0)
    except Exception as exc:  # server gone (ConnectionClosedError) or a protocol error
        log.debug("MIT-SCREEN-SAVER query failed: %s", exc)
        x11_reset()
        # The server may have restarted since we connected: one fresh try.
        return _x11_idle(retry=False) if retry else None


def _mutter_idle() -> float | None:
    if _skipping("mutter"):
        return None
    ms = _dbus_call(
        time.monotonic() + BUDGET,
        "org.gnome.Mutter.IdleMonitor",
        "/org/gnome/Mutter/IdleMonitor/Core",
        "org.gnome.Mutter.IdleMonitor",
        "GetIdletime",
    )
    if ms is None:
        _skip("mutter")
        return None
    return max(0.0, int(ms) / 1000.0)


def _mac_idle() -> float | None:
    try:
        import Quartz
    except ImportError:
        return None
    return float(
        Quartz.CGEventSourceSecondsSinceLastEventType(
            Quartz.kCGEventSourceStateCombinedSessionState, Quartz.kCGAnyInputEventType
        )
    )


def _win_idle() -> float | None:
    import ctypes
    from ctypes import wintypes

    class LASTINPUTINFO(ctypes.Structure):
        _fields_ = [("cbSize", wintypes.UINT), ("dwTime", wintypes.DWORD)]

    info = LASTINPUTINFO(cbSize=ctypes.sizeof(LASTINPUTINFO))
    if not ctypes.windll.user32.GetLastInputInfo(ctypes.byref(info)):  # type: ignore[attr-defined]
        return None
    now = ctypes.windll.kernel32.GetTickCount() & 0xFFFFFFFF  # type: ignore[attr-defined]
    return ((now - info.dwTime) & 0xFFFFFFFF) / 1000.0


def idle_seconds() -> float | None:
    """Seconds since the last keyboard or mouse input, or None when it cannot be known."""
    try:
        if sys.platform == "darwin":
            return _mac_idle()
        if sys.platform == "win32":
            return _win_idle()
        if os.environ.get("WAYLAND_DISPLAY"):
            return _mutter_idle()
        return _x11_idle()
    except Exception:
        log.warning("idle probe failed", exc_info=True)
        return None


# --- lock -------------------------------------------------------------------------------------


def _dbus_locked(deadline: float) -> bool | None:
    if _skipping("screensaver"):
        return None
    for name, path, iface in _SCREENSAVERS:
        active = _dbus_call(deadline, name, path, iface, "GetActive")
        if active is not None:
            return bool(active)
        if time.monotonic() >= deadline:
            return None
    _skip("screensaver")
    return None


def _loginctl_locked(deadline: float) -> bool | None:
    session = os.environ.get("XDG_SESSION_ID")
    loginctl = shutil.which("loginctl")
    if not session or not loginctl or _skipping("loginctl"):
        return None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    try:
        out = subprocess.run(
            [loginctl, "show-session", session, "-p", "LockedHint", "--value"],
            capture_output=True,
            text=True,
            timeout=remaining,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError) as exc:
        log.debug("loginctl failed: %s", exc)
        return None
    value = out.stdout.strip().lower()
    if out.returncode != 0 or value not in ("yes", "no"):
        _skip("loginctl")
        return None
    return value == "yes"


def _mac_locked() -> bool | None:
    try:
        import Quartz
    except ImportError:
        return None
    session = Quartz.CGSessionCopyCurrentDictionary()
    if session is None:
        return None
    return bool(session.get("CGSSessionScreenIsLocked", False))


def _win_locked() -> bool | None:
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.windll.user32  # type: ignore[attr-defined]
    user32.OpenInputDesktop.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    user32.OpenInputDesktop.restype = wintypes.HANDLE
    user32.GetUserObjectInformationW.argtypes = [
        wintypes.HANDLE,
        ctypes.c_int,
        ctypes.c_void_p,
        wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD),
    ]
    user32.CloseDesktop.argtypes = [wintypes.HANDLE]
    desk = user32.OpenInputDesktop(0, False, 0x0001)  # DESKTOP_READOBJECTS
    if not desk:
        return True  # the secure (Winlogon) desktop cannot be opened: locked
    try:
        buf = ctypes.create_unicode_buffer(256)
        needed = wintypes.DWORD(0)
        ok = user32.GetUserObjectInformationW(
            desk, 2, buf, ctypes.sizeof(buf), ctypes.byref(needed)
        )
        if not ok:
            return None
        return buf.value.lower() != "default"
    finally:
        user32.CloseDesktop(desk)


def screen_locked() -> bool | None:
    """True when the session's screen is locked, None when it cannot be known."""
    try:
        if sys.platform == "darwin":
            return _mac_locked()
        if sys.platform == "win32":
            return _win_locked()
        deadline = time.monotonic() + BUDGET
        locked = _dbus_locked(deadline)
        if locked is None:
            locked = _loginctl_locked(deadline)
        return locked
    except Exception:
        log.warning("lock probe failed", exc_info=True)
        return None


class ActivityMonitor:
    """Folds idle time and lock state into one word for the capture loop."""

    def __init__(self, idle_threshold: float = 120.0) -> None:
        if not idle_threshold > 0:
            raise ValueError(f"idle_threshold must be > 0 seconds, got {idle_threshold!r}")
        self.idle_threshold = float(idle_threshold)

    def state(self) -> str:
        """``"locked"``, ``"idle"`` or ``"active"``; whatever cannot be known counts as active."""
        if screen_locked():
            return "locked"
        idle = idle_seconds()
        if idle is not None and idle >= self.idle_threshold:
            return "idle"
        return "active"
