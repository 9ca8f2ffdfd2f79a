"""``engram install`` / ``engram uninstall``: menu entry, icons, login entry, and the data.

Everything is per user (XDG dirs on Linux), so neither needs root. ``uninstall`` removes what
``install`` wrote; the memories stay unless ``--purge-data`` is given and confirmed, and it
says exactly where they stay. Wired into the CLI by :func:`register_cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from engram.core import autostart
from engram.core.config import Paths, asset_path
from engram.core.keys import SERVICE

ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
LLM_KEY_ENTRY = "llm-api-key"
_MARKERS = ("ledger.db", "key.json", "config.toml", "vectors")


class InstallError(Exception):
    """Install/uninstall cannot do what was asked; the message says why and what to do."""


# -- where things go -------------------------------------------------------------------------
def _xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def desktop_entry_path() -> Path:
    return _xdg_data_home() / "applications" / f"{autostart.DESKTOP_ID}.desktop"


def icon_paths() -> dict[Path, str]:
    """Installed icon path -> the asset it is copied from (hicolor theme, per user)."""
    theme = _xdg_data_home() / "icons" / "hicolor"
    name = autostart.DESKTOP_ID
    out = {
        theme / f"{s}x{s}" / "apps" / f"{name}.png": f"icons/png/engram-{s}.png" for s in ICON_SIZES
    }
    out[theme / "scalable" / "apps" / f"{name}.svg"] = "icons/engram.svg"
    return out


def _refresh_caches() -> None:
    """Tell menus about the change; missing tools are fine (menus rescan on their own)."""
    apps = desktop_entry_path().parent
    theme = _xdg_data_home() / "icons" / "hicolor"
    for cmd in (
        ["update-desktop-database", "-q", str(apps)],
        ["gtk-update-icon-cache", "-q", "-t", str(theme)],
    ):
        if shutil.which(cmd[0]) and Path(cmd[-1]).is_dir():
            subprocess.run(cmd, capture_output=True, timeout=30, check=False)


# -- install ---------------------------------------------------------------------------------
def install_icons() -> list[str]:
    written = []
    for dest, name in icon_paths().items():
        src = asset_path(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o644)
        written.append(str(dest))
    return written


def install(desktop_entry: bool = True, login: bool = False) -> dict[str, Any]:
    """Install the menu entry + icons and/or the login entry; return what was written."""
    if not desktop_entry and not login:
        raise InstallError("nothing to install: give --desktop-entry and/or --autostart")
    argv = autostart.launch_command("run")
    plat = autostart.platform_name()
    written: list[str] = []
    if desktop_entry:
        if plat != "linux":
            raise InstallError(
                "--desktop-entry is for Linux desktops; on macOS move Engram.app to "
                "Applications, on Windows the installer adds the Start menu shortcut"
            )
        written += install_icons()
        path = desktop_entry_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(autostart.render_desktop("engram.desktop", argv), encoding="utf-8")
        os.chmod(path, 0o644)
        written.append(str(path))
    if login:
        if plat == "linux" and not desktop_entry:
            written += install_icons()
        written.append(autostart.install_autostart(argv))
    if plat == "linux":
        _refresh_caches()
    return {"installed": written, "command": argv}


# -- uninstall -------------------------------------------------------------------------------
def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / f).lstat().st_size
    return total


def _store_id(paths: Paths) -> str | None:
    try:
        return json.loads(paths.keyfile.read_text(encoding="utf-8")).get("store_id")
    except (OSError, ValueError, AttributeError):
        return None


def keyring_entries(paths: Paths) -> list[str]:
    """The keyring entries (service ``engram``) this store uses that exist right now."""
    names = [LLM_KEY_ENTRY]
    sid = _store_id(paths)
    if sid:
        names.insert(0, f"data-key:{sid}")
    try:
        import keyring

        return [n for n in names if keyring.get_password(SERVICE, n) is not None]
    except Exception:  # no backend, locked, D-Bus down: nothing we can see
        return []


def remaining_data(paths: Paths | None = None) -> list[dict[str, Any]]:
    """What Engram keeps after an uninstall without --purge-data, and where."""
    paths = paths or Paths()
    out: list[dict[str, Any]] = []
    for kind, d in (("data", paths.data), ("config", paths.config)):
        if d.exists() and not any(x["path"] == str(d) for x in out):
            out.append({"what": kind, "path": str(d), "bytes": _tree_size(d)})
    for name in keyring_entries(paths):
        out.append({"what": "keyring", "path": f"service {SERVICE!r}, entry {name!r}", "bytes": 0})
    return out


def _check_deletable(d: Path) -> None:
    """Refuse to delete a dir that is not Engram's (ENGRAM_HOME=~ would be a disaster)."""
    d = d.resolve()
    home = Path.home().resolve()
    if d == Path(d.anchor) or d == home or d in home.parents:
        raise InstallError(f"refusing to delete {d}: it is the root or your home directory")
    if any(d.iterdir()) and not any((d / m).exists() for m in _MARKERS):
        raise InstallError(
            f"refusing to delete {d}: it holds no Engram store (no {', '.join(_MARKERS)})"
        )


def purge_data(paths: Paths | None = None) -> list[str]:
    """Delete the keyring entries, the data dir and the config dir; return what went."""
    paths = paths or Paths()
    dirs = [d for d in dict.fromkeys((paths.data, paths.config)) if d.exists()]
    for d in dirs:
        _check_deletable(d)
    removed = []
    names = keyring_entries(paths)
    if names:
        import keyring

        for name in names:
            try:
                keyring.delete_password(SERVICE, name)
                removed.append(f"keyring {SERVICE}/{name}")
            except Exception as exc:
                raise InstallError(f"cannot delete keyring entry {name!r}: {exc}") from exc
    for d in dirs:
        shutil.rmtree(d)
        removed.append(str(d))
    return removed


def uninstall(purge: bool = False) -> dict[str, Any]:
    """Remove the login entry, menu entry and icons; with ``purge`` also the data."""
    removed: list[str] = []
    gone = autostart.remove_autostart()
    if gone:
        removed.append(gone)
    if autostart.platform_name() == "linux":
        for path in [desktop_entry_path(), *icon_paths()]:
            if path.exists() or path.is_symlink():
                path.unlink()
                removed.append(str(path))
        if removed:
            _refresh_caches()
    paths = Paths()
    if purge:
        removed += purge_data(paths)
    program = (
        str(Path(sys.executable).resolve().parent)
        if getattr(sys, "frozen", False)
        else "the Python package (pip uninstall engram, or delete the venv)"
    )
    return {"removed": removed, "remaining": remaining_data(paths), "program": program}


# -- command line ----------------------------------------------------------------------------
def _confirm(paths: Paths) -> bool:
    left = remaining_data(paths)
    if not left:
        return True
    if not sys.stdin.isatty():
        raise InstallError("--purge-data deletes your memories: confirm with --yes")
    print("This deletes, for good:")
    for item in left:
        print(f"  {item['what']:<8} {item['path']}")
    return input("Type 'delete' to confirm: ").strip().lower() == "delete"


def _human_uninstall(d: dict[str, Any]) -> str:
    lines = [f"removed {p}" for p in d["removed"]] or ["nothing to remove"]
    if d["remaining"]:
        lines.append("your data remains (engram uninstall --purge-data deletes it):")
        lines += [
            f"  {x['what']:<8} {x['path']}" + (f" ({x['bytes']:,} bytes)" if x["bytes"] else "")
            for x in d["remaining"]
        ]
    else:
        lines.append("no Engram data remains")
    lines.append(f"the program itself: {d['program']}")
    return "\n".join(lines)


def _print(args: argparse.Namespace, data: dict[str, Any], human: str) -> None:
    print(json.dumps(data, ensure_ascii=False) if getattr(args, "json", False) else human)


def cmd_install(args: argparse.Namespace) -> int:
    desktop_entry = args.desktop_entry or not args.autostart
    try:
        out = install(desktop_entry=desktop_entry, login=args.autostart)
    except (InstallError, autostart.AutostartError, OSError) as exc:
        print(f"engram: error: {exc}", file=sys.stderr)
        return 1
    _print(args, out, "\n".join(f"installed {p}" for p in out["installed"]))
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    try:
        if args.purge_data and not args.yes and not _confirm(Paths()):
            print("engram: nothing deleted", file=sys.stderr)
            return 1
        out = uninstall(purge=args.purge_data)
    except (InstallError, autostart.AutostartError, OSError) as exc:
        print(f"engram: error: {exc}", file=sys.stderr)
        return 1
    _print(args, out, _human_uninstall(out))
    return 0


def register_cli(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``install`` and ``uninstall`` to the ``engram`` subcommands (handlers in ``func``)."""
    ins = sub.add_parser(
        "install",
        parents=[common],
        help="add Engram to the app menu (default) and/or start it at login",
    )
    ins.add_argument("--desktop-entry", action="store_true", help="app menu entry + icons")
    ins.add_argument("--autostart", action="store_true", help="start Engram (tray) at login")
    ins.set_defaults(func=cmd_install)
    un = sub.add_parser(
        "uninstall",
        parents=[common],
        help="remove the menu and login entries; --purge-data also deletes your data",
    )
    un.add_argument(
        "--purge-data",
        action="store_true",
        help="also delete the data dir, the config dir and the keyring entries",
    )
    un.add_argument("--yes", "-y", action="store_true", help="do not ask before --purge-data")
    un.set_defaults(func=cmd_uninstall)


def install_check() -> tuple[bool, str]:
    """For ``engram doctor``: how this copy runs, where tesseract comes from, what is installed."""
    tess = shutil.which("tesseract")
    how = (
        f"bundle at {Path(sys.executable).resolve().parent}"
        if getattr(sys, "frozen", False)
        else f"from {autostart.launch_command()[0]}"
    )
    parts = [
        how,
        f"tesseract (system dependency, not bundled): {tess or 'not found on PATH'}",
    ]
    if autostart.platform_name() == "linux":
        parts.append(
            f"menu entry {'installed' if desktop_entry_path().exists() else 'not installed'}"
        )
    parts.append(f"autostart {'on' if autostart.autostart_installed() else 'off'}")
    return tess is not None, "; ".join(parts)
