"""The real app as a subprocess: starts, serves a second instance, quits cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from engram.core.config import Paths, Settings, save_settings
from tests.conftest import ROOT, run_cli


def test_engram_run_subprocess(isolated_env):
    save_settings(Settings(), Paths())  # not a first run: no welcome dialog
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="tests.fakes.keyrings.FileKeyring",
               QT_QPA_PLATFORM="offscreen")
    added = json.loads(run_cli("memories", "add", "semantic", "--json", "--data",
                               '{"name": "Okapi", "summary": "seen at the zoo"}').stdout)
    app = subprocess.Popen([sys.executable, "-m", "engram.cli", "run", "--no-capture"], env=env,
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(8)
        assert app.poll() is None, app.stderr.read() if app.stderr else ""
        # the CLI still works beside the running app (one writer per process, WAL readers)
        hits = json.loads(run_cli("search", "okapi", "--json").stdout)
        assert hits[0]["id"] == added["id"]
        # a second `engram run` hands over to the running instance and exits at once
        second = subprocess.run([sys.executable, "-m", "engram.cli", "run", "--quick-ask"],
                                env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
    finally:
        app.send_signal(signal.SIGINT)
        out, err = app.communicate(timeout=60)
    assert app.returncode == 0, err
    assert "Traceback" not in err
