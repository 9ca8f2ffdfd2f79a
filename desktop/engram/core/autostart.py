"""Start Engram at login: an XDG autostart entry, a macOS LaunchAgent or a Windows Run key.

Each is per user and needs no admin rights. Only the Linux entry is tested here; the macOS
and Windows forms are written as they would ship (plist per ``launchd.plist(5)``, the
``HKCU\\...\\CurrentVersion\\Run`` value Explorer reads at logon).
"""

from __future__ import annotations

import os
import plistlib
import re
import subprocess
import sys
from pathlib import Path

APP_ID = "io.engram.Engram"
DESKTOP_ID = "engram"  # matches QGuiApplication.setDesktopFileName in the UI
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "Engram"


class AutostartError(Exception):
    """The autostart entry cannot be written or removed (unsupported OS, template missing)."""


def launch_command(*args: str) -> list[str]:
    """The absolute command that starts this installation of Engram, plus ``args``.

    Frozen bundle: its executable. Installed package: the ``engram`` script next to the
    interpreter (a venv's bin/), else ``python -m engram.cli``. Absolute, because a login
    session's PATH rarely contains a venv.
    """
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve()), *args]
    exe = Path(sys.executable)
    name = "engram.exe" if sys.platform == "win32" else "engram"
    for d in (exe.parent, exe.parent / "Scripts"):
        if (d / name).is_file():
            return [str(d / name), *args]
    return [str(exe), "-m", "engram.cli", *args]


def platform_name(platform: str | None = None) -> str:
    """``linux``, ``darwin`` or ``win32``; other Unixes with XDG count as ``linux``."""
    p = platform or sys.platform
    if p.startswith("win"):
        return "win32"
    if p == "darwin":
        return "darwin"
    return "linux"


# -- the Exec key (Desktop Entry Specification, "The Exec key") -------------------------------
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def desktop_exec(argv: list[str]) -> str:
    """Quote ``argv`` for a .desktop ``Exec=`` value (then escaped as a string value)."""
    if not argv:
        raise ValueError("empty command")
    parts = []
    for arg in argv:
        if "%" in arg:
            arg = arg.replace("%", "%%")
        if arg and not (_RESERVED & set(arg)):
            parts.append(arg)
        else:
            inner = re.sub(r'(["`$\\])', r"\\\1", arg)
            parts.append(f'"{inner}"')
    # the string-value escape: a literal backslash is written as two
    return " ".join(parts).replace("\\", "\\\\")


def template(name: str) -> str:
    """A file from packaging/linux/: the bundle's copy when frozen, else the source tree's."""
    candidates = []
    if getattr(sys, "_MEIPASS", None):
        candidates.append(Path(sys._MEIPASS) / "packaging" / "linux")  # type: ignore[attr-defined]
    candidates.append(Path(__file__).resolve().parents[3] / "packaging" / "linux")
    for d in candidates:
        if (d / name).is_file():
            return (d / name).read_text(encoding="utf-8")
    raise AutostartError(f"template {name!r} not found in {', '.join(map(str, candidates))}")


def render_desktop(name: str, argv: list[str], try_exec: str | None = None) -> str:
    """A packaging/linux template with ``Exec``/``TryExec`` pointing at ``argv``."""
    text = template(name)
    out = []
    for line in text.splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + desktop_exec(argv)
        elif line.startswith("TryExec="):
            line = "TryExec=" + (try_exec or argv[0]).replace("\\", "\\\\")
        out.append(line)
    return "\n".join(out) + "\n"


# -- where the entry lives -------------------------------------------------------------------
def _xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def autostart_path(platform: str | None = None) -> Path:
    """The file that starts Engram at login (Linux, macOS); Windows uses the registry."""
    p = platform_name(platform)
    if p == "linux":
        return _xdg_config_home() / "autostart" / f"{DESKTOP_ID}.desktop"
    if p == "darwin":
        return Path.home() / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
    raise AutostartError("on Windows the autostart entry is the HKCU Run key, not a file")


def launch_agent(argv: list[str]) -> bytes:
    """The LaunchAgent plist: start at login in the GUI session, do not restart on quit."""
    plist = {
        "Label": APP_ID,
        "ProgramArguments": argv,
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    return plistlib.dumps(plist)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def install_autostart(argv: list[str] | None = None, platform: str | None = None) -> str:
    """Install (or replace) the login entry; return where it went."""
    argv = argv or launch_command("run")
    p = platform_name(platform)
    if p == "linux":
        path = autostart_path(p)
        _write(path, render_desktop("engram-autostart.desktop", argv).encode())
        return str(path)
    if p == "darwin":
        path = autostart_path(p)
        _write(path, launch_agent(argv))
        return str(path)
    return _win_run_key(argv)


def remove_autostart(platform: str | None = None) -> str | None:
    """Remove the login entry; return what was removed, or None if there was none."""
    p = platform_name(platform)
    if p == "win32":
        return _win_run_key(None)
    path = autostart_path(p)
    if path.exists() or path.is_symlink():
        path.unlink()
        return str(path)
    return None


def autostart_installed(platform: str | None = None) -> bool:
    p = platform_name(platform)
    if p == "win32":
        return _win_run_key_value() is not None
    return autostart_path(p).exists()


# -- Windows ---------------------------------------------------------------------------------
def _win_run_key(argv: list[str] | None) -> str | None:
    """Set (argv) or delete (None) the HKCU Run value; return its registry path or None."""
    if sys.platform != "win32":
        raise AutostartError("the Windows Run key can only be written on Windows")
    import winreg  # type: ignore[import-not-found]

    where = f"HKCU\\{RUN_KEY}\\{RUN_VALUE}"
    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_ALL_ACCESS) as key:
        if argv is not None:
            winreg.SetValueEx(key, RUN_VALUE, 0, winreg.REG_SZ, subprocess.list2cmdline(argv))
            return where
        try:
            winreg.DeleteValue(key, RUN_VALUE)
        except FileNotFoundError:
            return None
        return where


def _win_run_key_value() -> str | None:
    if sys.platform != "win32":
        return None
    import winreg  # type: ignore[import-not-found]

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            return str(winreg.QueryValueEx(key, RUN_VALUE)[0])
    except FileNotFoundError:
        return None
