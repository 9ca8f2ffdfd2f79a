"""Local surfaces: private files on disk, and a local API that only loopback + token can use."""

from __future__ import annotations

import json
import os
import socket
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from engram.core.memory.store import NewMemory
from tests.conftest import run_cli


def modes(root: Path) -> list[tuple[str, str]]:
    """Every path under root whose group/other bits are set (should be none)."""
    bad = []
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files, "."]:
            p = Path(dirpath) / name
            mode = stat.S_IMODE(p.lstat().st_mode)
            if mode & 0o077:
                bad.append((str(p), oct(mode)))
    return bad


def test_data_dir_and_files_are_private(svc):
    from engram.core.config import save_settings

    items = [
        NewMemory("semantic", {"name": f"fact {i}", "summary": f"the number {i} is odd"})
        for i in range(150)
    ]
    svc.add_memories(items)  # enough for Chroma to write its HNSW segment files
    save_settings(svc.settings, svc.paths)
    home = svc.paths.data
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("ledger.db", "key.json", "config.toml"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    assert modes(home) == []  # while running: WAL, SHM, Chroma's sqlite and segments
    svc.close()
    files = [p for p in (home / "vectors").rglob("*") if p.is_file()]
    assert len(files) >= 2, files  # chroma.sqlite3 plus segment files
    assert modes(home) == []


def test_cli_creates_private_files_under_a_loose_umask(isolated_env):
    old = os.umask(0o022)
    try:
        proc = run_cli("memories", "add", "semantic", "--data", '{"name": "Umask", "summary": "x"}')
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    assert modes(isolated_env) == []


# ------------------------------------------------------------------------------ the API


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _outward_ip() -> str | None:
    """This machine's non-loopback address, if it has one (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def test_api_binds_loopback_only_and_needs_the_token(svc):
    from engram.core.api import start_api_server
    from engram.core.api.guard import NonLoopbackHost
    from engram.core.api.token import get_token

    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        with pytest.raises(NonLoopbackHost):
            start_api_server(svc, port=0, host=host)
    svc.add_memory("semantic", {"name": "Capybara", "summary": "largest rodent"})
    handle = start_api_server(svc, port=0)
    try:
        assert handle.host == "127.0.0.1"
        url = f"{handle.url}/v1/search?query=capybara"
        status, _ = _get(url)
        assert status == 401
        status, _ = _get(url, {"Authorization": "Bearer not-the-token"})
        assert status == 401
        token = get_token(svc.paths)
        status, body = _get(url, {"Authorization": f"Bearer {token}"})
        assert status == 200 and "Capybara" in json.dumps(body)
        # DNS rebinding: the right token but a foreign Host header is refused
        status, _ = _get(url, {"Authorization": f"Bearer {token}", "Host": "evil.example"})
        assert status in (400, 403, 421)
        ip = _outward_ip()
        if ip:  # not reachable from the network side
            with pytest.raises(OSError), socket.create_connection((ip, handle.port), timeout=2):
                pass
    finally:
        handle.stop()
