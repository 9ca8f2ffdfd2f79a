"""kill -9 trials outside pytest: prints the summary behind the README's crash-safety row.

    .venv/bin/python bench/crash_trials.py [-n 30] [--seed 2026]

Starts its own Xvfb and a changing window, uses a throwaway HOME/ENGRAM_HOME, and runs the
harness of tests/reliability/crash.py (needs Xvfb, tesseract and python-xlib).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=30, help="trials")
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="engram-crash-") as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        os.environ.update(
            HOME=str(base / "home"),
            ENGRAM_HOME=str(base / "engram"),
            TMPDIR=tmp,
            OMP_THREAD_LIMIT="1",
        )
        for k in [k for k in os.environ if k.startswith(("ENGRAM_", "OPENAI_"))]:
            if k != "ENGRAM_HOME":
                del os.environ[k]
        from tests.reliability.crash import Painter, run_trials
        from tests.xvfb import Xvfb

        from engram.core.memory.embed import LocalEmbedder

        server = Xvfb()
        os.environ["DISPLAY"] = server.display
        os.environ.pop("WAYLAND_DISPLAY", None)
        try:
            with Painter(server.display):
                report = run_trials(
                    args.n,
                    embedder=LocalEmbedder(),
                    work=base / "work",
                    seed=args.seed,
                    headless_kill=(5.0, 18.0),
                    log=lambda r: print(json.dumps(r.__dict__), file=sys.stderr, flush=True),
                )
        finally:
            server.stop()
    print(json.dumps(report.summary(), indent=1))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
