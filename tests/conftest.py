"""Test isolation: every test gets its own HOME, ENGRAM_HOME and XDG dirs, no network LLM."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.xvfb", "tests.fakes.llm_server"]
_SCRUB = ("ENGRAM_", "OPENAI_")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME, ENGRAM_HOME and XDG_* at temp dirs; use an in-memory keyring."""
    for key in list(os.environ):
        if key.startswith(_SCRUB):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    engram_home = tmp_path / "engram"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ENGRAM_HOME", str(engram_home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.fakes.keyrings.MemoryKeyring")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    import keyring
    import keyring.core

    from tests.fakes import keyrings

    keyrings.clear_memory()
    keyring.core.set_keyring(keyrings.MemoryKeyring())
    return engram_home


@pytest.fixture(scope="session")
def embedder():
    """One real ONNX embedder per test session (loading it costs ~0.5 s)."""
    from engram.core.memory.embed import LocalEmbedder

    return LocalEmbedder()


@pytest.fixture
def svc(isolated_env: Path, embedder):
    """A real EngramService (SQLCipher + Chroma + embeddings) in the test's ENGRAM_HOME."""
    from engram.core.service import EngramService

    service = EngramService(embedder=embedder)
    yield service
    service.close()


def run_cli(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 120):
    """Run the real `engram` CLI in a subprocess with the test's environment."""
    import subprocess

    e = dict(os.environ)
    e["PYTHON_KEYRING_BACKEND"] = "tests.fakes.keyrings.FileKeyring"
    if env:
        e.update(env)
    return subprocess.run(
        [sys.executable, "-m", "engram.cli", *args],
        capture_output=True,
        text=True,
        env=e,
        input=input,
        timeout=timeout,
        cwd=str(ROOT),
    )
