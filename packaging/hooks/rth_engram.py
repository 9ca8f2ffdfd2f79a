"""PyInstaller runtime hook: make the frozen app find its assets and the system's tesseract.

Runs before ``engram`` is imported:

- ``ENGRAM_ASSETS`` points at the bundled ``assets/`` (tokenizer, icons), unless the user set it.
- The bootloader prepends the bundle to ``LD_LIBRARY_PATH``; child processes (tesseract,
  xdg-open) must not load the bundle's copies of libstdc++ or libz, so the original value is
  put back for them. This process's own loader read the variable at start and is unaffected.
- Tesseract is a system dependency, found on ``PATH``. A GUI app started from a desktop entry,
  launchd or Explorer gets a short ``PATH``, so the usual install dirs are appended when they
  hold a tesseract binary.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _setup() -> None:
    base = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    if not os.environ.get("ENGRAM_ASSETS") and (base / "assets").is_dir():
        os.environ["ENGRAM_ASSETS"] = str(base / "assets")
    for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        orig = os.environ.pop(var + "_ORIG", None)
        if orig is not None:
            os.environ[var] = orig
        elif var in os.environ:
            kept = [p for p in os.environ[var].split(os.pathsep) if p and Path(p) != base]
            if kept:
                os.environ[var] = os.pathsep.join(kept)
            else:
                del os.environ[var]
    exe = "tesseract.exe" if sys.platform == "win32" else "tesseract"
    extra = [
        "/usr/bin",
        "/usr/local/bin",
        "/opt/homebrew/bin",
        "/opt/local/bin",
        r"C:\Program Files\Tesseract-OCR",
        r"C:\Program Files (x86)\Tesseract-OCR",
    ]
    path = os.environ.get("PATH", "").split(os.pathsep)
    for d in extra:
        if d not in path and os.path.isfile(os.path.join(d, exe)):
            path.append(d)
    os.environ["PATH"] = os.pathsep.join(p for p in path if p)


_setup()
