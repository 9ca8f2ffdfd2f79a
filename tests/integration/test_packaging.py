"""Packaging: install/uninstall (menu entry, icons, login entry, data purge), the Linux
metadata files, the icon renders, and (slow) a PyInstaller build of the whole app, run."""

from __future__ import annotations

import argparse
import json
import os
import plistlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from engram.core import autostart, install
from engram.core.config import Paths
from engram.core.keys import SERVICE, KeyManager
from tests.xvfb import XvfbFactory

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"


def cli(*argv: str) -> tuple[int, str]:
    """Run install/uninstall through the parser ``register_cli`` builds, as the CLI would."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true")
    parser = argparse.ArgumentParser(parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    install.register_cli(sub, common)
    args = parser.parse_args(argv)
    return args.func(args), ""


def validate_desktop(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate missing (apt-get install desktop-file-utils)")
    out = subprocess.run([tool, str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def desktop_keys(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and line[0] != "#"
    )


# -- metadata files --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["engram.desktop", "engram-autostart.desktop"])
def test_shipped_desktop_files_validate(name: str) -> None:
    validate_desktop(LINUX / name)


def test_metainfo_validates_and_names_the_desktop_entry() -> None:
    path = LINUX / "io.engram.Engram.metainfo.xml"
    text = path.read_text()
    assert f'<launchable type="desktop-id">{autostart.DESKTOP_ID}.desktop</launchable>' in text
    tool = shutil.which("appstreamcli")
    if tool is None:
        pytest.skip("appstreamcli missing (apt-get install appstream)")
    out = subprocess.run([tool, "validate", "--no-net", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# -- the Exec key ----------------------------------------------------------------------------
def test_desktop_exec_quotes_per_spec() -> None:
    assert autostart.desktop_exec(["/opt/engram/engram", "run"]) == "/opt/engram/engram run"
    assert (
        autostart.desktop_exec(["/home/a b/.venv/bin/engram", "run"])
        == '"/home/a b/.venv/bin/engram" run'
    )
    # inside quotes " ` $ \ get a backslash; then every backslash is doubled (string escape)
    assert autostart.desktop_exec(['/x/$HOME"q']) == '"/x/\\\\$HOME\\\\"q"'
    assert autostart.desktop_exec(["/x/100%"]) == "/x/100%%"
    with pytest.raises(ValueError):
        autostart.desktop_exec([])


def test_awkward_install_path_still_gives_a_valid_entry(tmp_path: Path) -> None:
    argv = [str(tmp_path / "My Apps" / "en$gram 100%" / "engram"), "run"]
    path = tmp_path / "e.desktop"
    path.write_text(autostart.render_desktop("engram.desktop", argv))
    validate_desktop(path)


# -- autostart ---------------------------------------------------------------------------------
def test_autostart_install_and_remove(tmp_path: Path) -> None:
    home = Path(os.environ["XDG_CONFIG_HOME"])
    argv = [str(tmp_path / "bin" / "engram"), "run"]
    where = autostart.install_autostart(argv)
    path = home / "autostart" / "engram.desktop"
    assert where == str(path) and autostart.autostart_installed()
    keys = desktop_keys(path)
    assert keys["Exec"] == f"{argv[0]} run"
    assert keys["TryExec"] == argv[0]
    assert keys["X-GNOME-Autostart-enabled"] == "true"
    validate_desktop(path)
    # installing again replaces, never duplicates
    autostart.install_autostart(argv)
    assert [p.name for p in path.parent.iterdir()] == ["engram.desktop"]
    assert autostart.remove_autostart() == str(path)
    assert not path.exists() and not autostart.autostart_installed()
    assert autostart.remove_autostart() is None


def test_launch_agent_plist_for_macos() -> None:
    argv = ["/Applications/Engram.app/Contents/MacOS/engram", "run"]
    where = autostart.install_autostart(argv, platform="darwin")
    path = Path(os.environ["HOME"]) / "Library" / "LaunchAgents" / "io.engram.Engram.plist"
    assert where == str(path)
    plist = plistlib.loads(path.read_bytes())
    assert plist["Label"] == "io.engram.Engram"
    assert plist["ProgramArguments"] == argv
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is False
    assert autostart.remove_autostart(platform="darwin") == str(path)
    assert not path.exists()


def test_windows_run_key_refuses_off_windows() -> None:
    with pytest.raises(autostart.AutostartError, match="Windows"):
        autostart.install_autostart(["engram.exe", "run"], platform="win32")


# -- install / uninstall -----------------------------------------------------------------------
def test_install_then_uninstall_leaves_data_and_says_where(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_home = Path(os.environ["XDG_DATA_HOME"])
    KeyManager(Paths().keyfile).load_or_create()  # a store: key.json + the keyring entry
    (isolated_env / "ledger.db").write_bytes(b"x" * 1000)

    code, _ = cli("install", "--autostart", "--desktop-entry", "--json")
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    entry = data_home / "applications" / "engram.desktop"
    login = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "engram.desktop"
    assert str(entry) in out["installed"] and str(login) in out["installed"]
    assert desktop_keys(entry)["Exec"].split()[-1] == "run"
    assert Path(out["command"][0]).exists()  # an absolute, real launcher
    validate_desktop(entry)
    for size in install.ICON_SIZES:
        png = data_home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "engram.png"
        with Image.open(png) as im:
            assert im.size == (size, size) and im.mode == "RGBA"
    assert (data_home / "icons" / "hicolor" / "scalable" / "apps" / "engram.svg").exists()

    code, _ = cli("uninstall")
    assert code == 0
    text = capsys.readouterr().out
    assert not entry.exists() and not login.exists()
    assert not list((data_home / "icons").rglob("engram.*"))
    assert "your data remains" in text and str(isolated_env) in text
    sid = json.loads(Paths().keyfile.read_text())["store_id"]
    assert f"data-key:{sid}" in text  # the keyring entry is named too
    assert (isolated_env / "ledger.db").exists()

    code, _ = cli("uninstall")  # twice is fine
    assert code == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_install_without_flags_adds_only_the_menu_entry() -> None:
    code, _ = cli("install")
    assert code == 0
    assert (Path(os.environ["XDG_DATA_HOME"]) / "applications" / "engram.desktop").exists()
    assert not autostart.autostart_installed()


def test_purge_needs_confirmation_then_deletes_data_and_keys(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import keyring

    KeyManager(Paths().keyfile).load_or_create()
    keyring.set_password(SERVICE, install.LLM_KEY_ENTRY, "sk-test")
    (isolated_env / "ledger.db").write_bytes(b"x")
    sid = json.loads(Paths().keyfile.read_text())["store_id"]

    code, _ = cli("uninstall", "--purge-data")  # stdin is not a terminal, no --yes
    assert code == 1
    assert "--yes" in capsys.readouterr().err
    assert (isolated_env / "ledger.db").exists()
    assert keyring.get_password(SERVICE, f"data-key:{sid}") is not None

    code, _ = cli("uninstall", "--purge-data", "--yes", "--json")
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert not isolated_env.exists()
    assert keyring.get_password(SERVICE, f"data-key:{sid}") is None
    assert keyring.get_password(SERVICE, install.LLM_KEY_ENTRY) is None
    assert str(isolated_env) in out["removed"] and out["remaining"] == []


def test_purge_refuses_a_home_that_is_not_engrams(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = Path(os.environ["HOME"])
    (home / "thesis.tex").write_text("years of work")
    monkeypatch.setenv("ENGRAM_HOME", str(home))
    code, _ = cli("uninstall", "--purge-data", "--yes")
    assert code == 1
    assert "refusing" in capsys.readouterr().err
    assert (home / "thesis.tex").read_text() == "years of work"

    other = home / "notes"
    other.mkdir()
    (other / "a.txt").write_text("mine")
    monkeypatch.setenv("ENGRAM_HOME", str(other))
    code, _ = cli("uninstall", "--purge-data", "--yes")
    assert code == 1
    assert (other / "a.txt").exists()


def test_install_check_reports_tesseract() -> None:
    ok, detail = install.install_check()
    tess = shutil.which("tesseract")
    assert ok is (tess is not None)
    assert f"tesseract (system dependency, not bundled): {tess or 'not found on PATH'}" in detail


# -- icons -------------------------------------------------------------------------------------
def test_render_icons_draws_the_svg_at_every_size(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "render_icons.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for size in (16, 32, 256, 512):
        with Image.open(tmp_path / f"engram-{size}.png") as im:
            assert im.size == (size, size)
            alpha = im.getchannel("A")
            # the rounded square: opaque centre, transparent corner
            assert alpha.getpixel((size // 2, size // 2)) == 255
            assert alpha.getpixel((0, 0)) == 0
    with Image.open(tmp_path / "engram.ico") as ico:
        assert (16, 16) in ico.info["sizes"] and (256, 256) in ico.info["sizes"]
    # the committed renders are there for every size the installer copies
    for size in install.ICON_SIZES:
        assert (ROOT / "assets" / "icons" / "png" / f"engram-{size}.png").exists()


# -- the frozen app (slow) ---------------------------------------------------------------------
def _x_windows(display: str) -> list[tuple[str, str]]:
    """(WM_CLASS class, title) of every top-level window on ``display``."""
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        out = []
        for w in d.screen().root.query_tree().children:
            try:
                cls = w.get_wm_class()
                out.append((cls[1] if cls else "", w.get_wm_name() or ""))
            except Exception:
                continue
        return out
    finally:
        d.close()


@pytest.mark.slow
@pytest.mark.xvfb
@pytest.mark.timeout(1800)
def test_frozen_bundle_builds_and_runs(tmp_path: Path, xvfb_factory: XvfbFactory) -> None:
    pytest.importorskip("PyInstaller", reason="pip install pyinstaller (the `package` extra)")
    from tests.frames import write_frame
    from tests.xvfb import open_window, wait_for

    dist, work = tmp_path / "dist", tmp_path / "work"
    env = dict(os.environ, PYTHON=sys.executable, DIST=str(dist), WORK=str(work))
    start = time.monotonic()
    build = subprocess.run(
        ["bash", str(ROOT / "packaging" / "build.sh")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1700,
    )
    seconds = time.monotonic() - start
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    exe = dist / "engram" / "engram"
    files = (dist / "engram").rglob("*")
    size = sum(p.stat().st_size for p in files if p.is_file() and not p.is_symlink())
    print(f"\nfrozen build: {seconds:.0f} s, {size / 2**20:.0f} MiB in {exe.parent}")

    # a display started after the build (which takes minutes), private to this test
    display = xvfb_factory.start().display
    # the frozen app sees no tests.fakes keyring: no keyring, a passphrase-wrapped key
    fenv = dict(os.environ)
    fenv.pop("WAYLAND_DISPLAY", None)
    fenv.update(
        DISPLAY=display,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        ENGRAM_PASSPHRASE="frozen smoke test",
        ENGRAM_CAPTURE_INTERVAL="0.5",
    )
    fenv.pop("PYTHONPATH", None)

    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), *args], capture_output=True, text=True, env=fenv, timeout=timeout
        )

    from engram import __version__

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"engram {__version__}", out

    out = run("doctor", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    for name in ("display", "tesseract", "store", "embeddings"):
        assert checks[name]["ok"], checks[name]

    # OCR (system tesseract from the bundle), SQLCipher, ONNX embeddings and Chroma, frozen
    frames = tmp_path / "frames"
    write_frame(
        frames,
        "f1",
        ["Zanzibar shipping manifest", "container 42 due Friday"],
        app="gedit",
        title="manifest.txt",
    )
    out = run("ingest", str(frames), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["kept"] == 1
    out = run("search", "Zanzibar manifest", "--json")
    assert out.returncode == 0, out.stderr
    assert any("Zanzibar" in h["text"] for h in json.loads(out.stdout)), out.stdout

    # live capture under Xvfb until SIGTERM, which must end it cleanly
    with open_window("Harbour log", "Gedit", "Harbour log: ferry to Pemba at 9", display=display):
        proc = subprocess.Popen(
            [str(exe), "run", "--headless"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=fenv,
        )
        try:
            line = ""
            deadline = time.monotonic() + 120
            while "engram: capturing" not in line and time.monotonic() < deadline:
                line = proc.stdout.readline() if proc.stdout else ""
                if not line and proc.poll() is not None:
                    break
            assert "engram: capturing" in line, proc.stderr.read() if proc.stderr else ""
            time.sleep(4)
            proc.send_signal(signal.SIGTERM)
            rest, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    status = json.loads(run("status", "--json").stdout)
    assert status["captures_kept"] >= 2, status  # the ingested frame + at least one live one

    # the desktop app: Qt's xcb platform plugin and the widgets load from the bundle
    genv = dict(fenv, QT_QPA_PLATFORM="xcb")
    gui = subprocess.Popen(
        [str(exe), "run", "--no-capture"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=genv,
    )
    try:
        shown = wait_for(
            lambda: [w for w in _x_windows(display) if w[0] == "Engram" and w[1]],
            timeout=90,
            interval=0.5,
        )
        assert gui.poll() is None, gui.communicate()[1][-3000:]
        assert shown, _x_windows(display)
    finally:
        gui.kill()
        gui.communicate(timeout=30)
