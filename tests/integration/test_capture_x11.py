"""Capture primitives against real servers: Xvfb for grab/window/idle, dbus-daemon for lock."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC

import pytest

from engram.core.capture import activity
from engram.core.capture.activity import ActivityMonitor, idle_seconds, screen_locked
from engram.core.capture.grab import DisplayUnavailable, Grabber, Monitor
from engram.core.capture.window import WindowInfo, active_window, visible_windows
from tests.xvfb import XvfbFactory, open_window, set_active_window, wait_for

ORANGE = (255, 128, 0)


@pytest.mark.xvfb
def test_grab_returns_the_monitor_with_the_window_pixels(xvfb_display: str) -> None:
    with (
        open_window("Swatch", "Swatch", x=100, y=150, width=200, height=100, background="#ff8000"),
        Grabber() as grabber,
    ):
        assert grabber.monitors() == [Monitor(index=1, left=0, top=0, width=1280, height=800)]
        shots = grabber.grab()
        assert len(shots) == 1
        shot = shots[0]
        assert shot.monitor.index == 1
        assert shot.image.mode == "RGB" and shot.image.size == (1280, 800)
        assert shot.at.tzinfo is not None and shot.at.utcoffset() == UTC.utcoffset(None)
        px = shot.image.load()
        for x, y in [(100, 150), (200, 200), (299, 249)]:
            assert px[x, y] == ORANGE
        for x, y in [(99, 150), (300, 200), (200, 250), (1000, 700)]:
            assert px[x, y] != ORANGE


@pytest.mark.xvfb
def test_grabber_monitor_selection(xvfb_display: str) -> None:
    with Grabber([1]) as g:
        assert [s.monitor.index for s in g.grab()] == [1]
    with Grabber([2]) as g, pytest.raises(ValueError, match=r"none of the configured monitors"):
        g.grab()
    with pytest.raises(ValueError, match="start at 1"):
        Grabber([0])


def test_grab_without_display_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayUnavailable, match="DISPLAY is not set"):
        Grabber().grab()
    assert active_window() is None
    assert idle_seconds() is None


@pytest.mark.xvfb
def test_active_window_follows_focus_with_utf8_titles(xvfb_display: str) -> None:
    with open_window("Résumé — Notes", "Notes") as notes:
        gone = notes.window_id
        info = active_window()
        assert info == WindowInfo(app="Notes", title="Résumé — Notes", pid=notes.pid)
        with open_window("Terminal ✓ ~/src", "XTerm") as term:
            assert active_window() == WindowInfo(
                app="XTerm", title="Terminal ✓ ~/src", pid=term.pid
            )
            notes.activate()
            assert active_window().title == "Résumé — Notes"
            term.activate()
            assert active_window().app == "XTerm"
        # closing the active window leaves no active window
        assert active_window() is None
        notes.activate()
        assert active_window().app == "Notes"
    set_active_window(0)
    assert active_window() is None
    # a stale id (window already gone), written the way xprop writes it (CARDINAL)
    subprocess.run(
        [
            "xprop",
            "-root",
            "-f",
            "_NET_ACTIVE_WINDOW",
            "32c",
            "-set",
            "_NET_ACTIVE_WINDOW",
            str(gone),
        ],
        check=True,
    )
    assert active_window() is None


@pytest.mark.xvfb
def test_legacy_wm_name_and_private_flag(xvfb_display: str) -> None:
    with open_window("Café menu", "Oldapp", net_wm_name=False):
        assert active_window() == WindowInfo(
            app="Oldapp", title="Café menu", pid=active_window().pid
        )
    with open_window("Bank - Google Chrome (Incognito)", "Google-chrome"):
        info = active_window()
        assert info.app == "Google-chrome" and info.private is True


@pytest.mark.xvfb
def test_visible_windows_lists_mapped_clients_bottom_to_top(xvfb_display: str) -> None:
    with (
        open_window("plan.md - gedit", "gedit", x=10, y=20, width=300, height=200),
        open_window("Vault - KeePassXC", "KeePassXC", x=200, y=50, width=400, height=300),
        open_window("Hidden", "Ghost", activate=False) as ghost,
    ):
        subprocess.run(["xdotool", "windowunmap", str(ghost.window_id)], check=True)
        wins = wait_for(lambda: [w for w in visible_windows() or [] if w.info][-2:] or None)
    assert [(w.info.app, w.info.title, w.rect) for w in wins] == [
        ("gedit", "plan.md - gedit", (10, 20, 310, 220)),
        ("KeePassXC", "Vault - KeePassXC", (200, 50, 600, 350)),
    ]
    assert all(w.info.pid for w in wins)


def test_visible_windows_without_a_display_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    assert visible_windows() is None


@pytest.mark.xvfb
def test_without_ewmh_the_input_focus_is_used(
    xvfb_factory: XvfbFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare server has no _NET_ACTIVE_WINDOW at all; the keyboard focus decides."""
    server = xvfb_factory.start()
    monkeypatch.setenv("DISPLAY", server.display)
    with open_window("Plain", "Plainwm", activate=False) as win:
        assert active_window() is None  # focus is PointerRoot
        subprocess.run(["xdotool", "windowfocus", str(win.window_id)], check=True)
        info = wait_for(active_window)
        assert info is not None and (info.app, info.title) == ("Plainwm", "Plain")


@pytest.mark.xvfb
def test_grab_survives_x_server_restart(
    xvfb_factory: XvfbFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = xvfb_factory.start()
    monkeypatch.setenv("DISPLAY", server.display)
    grabber = Grabber()
    try:
        assert grabber.grab()[0].image.size == (1280, 800)
        with open_window("Before", "Before"):
            assert active_window().app == "Before"
            assert idle_seconds() is not None
            server.kill()
            with pytest.raises(DisplayUnavailable, match=f"DISPLAY={server.display}"):
                grabber.grab()
            with pytest.raises(DisplayUnavailable):
                grabber.grab()  # still gone: a fresh connection fails too
            assert active_window() is None
            assert idle_seconds() is None
        restarted = xvfb_factory.start(server.number)
        assert restarted.display == server.display
        shots = grabber.grab()
        assert shots[0].image.size == (1280, 800)
        with open_window("After", "After", background="#ff8000", x=10, y=10, width=50, height=50):
            assert active_window().app == "After"
            assert grabber.grab()[0].image.getpixel((30, 30)) == ORANGE
    finally:
        grabber.close()


@pytest.mark.xvfb
def test_idle_seconds_drops_after_input(xvfb_display: str) -> None:
    first = idle_seconds()
    assert isinstance(first, float) and first >= 0
    time.sleep(1.0)
    before = idle_seconds()
    assert before is not None and before >= 0.9
    assert ActivityMonitor(idle_threshold=0.5).state() == "idle"
    subprocess.run(["xdotool", "mousemove", "321", "123"], check=True)
    after = idle_seconds()
    assert after is not None and after < before
    assert ActivityMonitor(idle_threshold=0.5).state() == "active"
    with pytest.raises(ValueError, match="idle_threshold"):
        ActivityMonitor(idle_threshold=0)


# --- screen lock over a real (private) session bus ----------------------------------------

_FAKE_SCREENSAVER = r"""
import sys
from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

name, path, locked = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
conn = open_dbus_connection(bus="SESSION")
conn.send_and_get_reply(message_bus.RequestName(name))
print("ready", flush=True)
while True:
    msg = conn.receive()
    if msg.header.message_type != MessageType.method_call:
        continue
    fields = msg.header.fields
    if fields.get(HeaderFields.path) == path and fields.get(HeaderFields.member) == "GetActive":
        conn.send(new_method_return(msg, "b", (locked,)))
    else:
        conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))
"""


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.skip("dbus-daemon not installed")
    proc = subprocess.Popen(
        [daemon, "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    address = proc.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    monkeypatch.delenv("XDG_SESSION_ID", raising=False)
    yield address
    activity._drop_bus()
    proc.terminate()
    proc.wait(timeout=5)
    proc.stdout.close()


def _screensaver(name: str, path: str, locked: bool) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _FAKE_SCREENSAVER, name, path, "1" if locked else "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(timeout=5)
    proc.stdout.close()


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver"),
        ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver"),
    ],
)
def test_screen_locked_asks_the_screensaver(session_bus: str, name: str, path: str) -> None:
    saver = _screensaver(name, path, locked=True)
    try:
        assert screen_locked() is True
        assert ActivityMonitor().state() == "locked"
    finally:
        _stop(saver)
    saver = _screensaver(name, path, locked=False)
    try:
        assert screen_locked() is False
    finally:
        _stop(saver)


def test_screen_locked_unknown_without_a_screensaver(session_bus: str) -> None:
    assert screen_locked() is None
    assert ActivityMonitor().state() != "locked"


def test_screen_locked_unknown_without_a_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/engram-bus")
    monkeypatch.delenv("XDG_SESSION_ID", raising=False)
    assert screen_locked() is None
