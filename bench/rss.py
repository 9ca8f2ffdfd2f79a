"""Peak memory of the real headless app while it captures a changing screen.

Starts Xvfb (1920x1080), a window whose text changes every 2 s, and
`engram run --headless` with a throwaway HOME/ENGRAM_HOME; samples the app's VmRSS and
VmHWM from /proc once a second and prints a table. Usage:
``.venv/bin/python bench/rss.py [--seconds 180]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180)
    args = ap.parse_args()
    from tests.reliability.crash import Painter
    from tests.xvfb import Xvfb

    server = Xvfb(size="1920x1080x24")
    work = Path(tempfile.mkdtemp(prefix="engram-rss-"))
    (work / "home").mkdir()
    env = dict(os.environ, DISPLAY=server.display, HOME=str(work / "home"),
               ENGRAM_HOME=str(work / "engram"), ENGRAM_PASSPHRASE="bench",
               ENGRAM_BATCH_SECONDS="10", ENGRAM_IDLE_SECONDS="86400", ENGRAM_MIN_FREE_GB="0",
               OMP_THREAD_LIMIT="1")
    env.pop("PYTHON_KEYRING_BACKEND", None)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    samples: list[int] = []
    with Painter(server.display, period=2.0):
        app = subprocess.Popen([sys.executable, "-m", "engram.cli", "run", "--headless"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + args.seconds
        hwm = 0
        try:
            while time.monotonic() < end and app.poll() is None:
                samples.append(_status_kib(app.pid, "VmRSS"))
                hwm = max(hwm, _status_kib(app.pid, "VmHWM"))
                time.sleep(1.0)
        finally:
            app.send_signal(signal.SIGTERM)
            app.wait(timeout=60)
    server.stop()
    status = json.loads(subprocess.run(
        [sys.executable, "-m", "engram.cli", "status", "--json"], cwd=ROOT, env=env,
        capture_output=True, text=True, check=True).stdout)
    samples.sort()
    print(f"| measure ({args.seconds:.0f} s of capture, 1920x1080, text changing every 2 s) "
          "| value |\n|---|---:|")
    print(f"| peak RSS (VmHWM) | {hwm / 1024:.0f} MB |")
    print(f"| median RSS | {samples[len(samples) // 2] / 1024:.0f} MB |")
    print(f"| frames seen / kept | {status['captures_seen']} / {status['captures_kept']} |")
    print(f"| memories made | {sum(status['memories'].values())} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
