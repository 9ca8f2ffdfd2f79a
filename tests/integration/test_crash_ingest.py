"""kill -9 during `engram ingest` of 100 frames, then run it again: counts add up."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.conftest import ROOT, run_cli
from tests.frames import WORDS, write_frame

N = 100


def _frames(folder):
    t0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
    for i in range(N):
        w1, w2 = WORDS[i % 20], WORDS[(i * 7 + 3) % 20]
        write_frame(
            folder,
            f"f{i:03d}",
            [f"Frame {i} {w1} {w2} ticket {1000 + i}"],
            app="gedit",
            title=f"note-{i}.txt - gedit",
            at=(t0 + timedelta(seconds=30 * i)).isoformat(),
            size=(520, 110),
        )


def _ingest(folder, env):
    return subprocess.Popen(
        [sys.executable, "-m", "engram.cli", "ingest", str(folder), "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_during_ingest_then_restart(isolated_env, tmp_path):
    folder = tmp_path / "frames"
    _frames(folder)
    env = dict(
        os.environ, PYTHON_KEYRING_BACKEND="tests.fakes.keyrings.FileKeyring", ENGRAM_BATCH_SIZE="7"
    )
    rng = random.Random(1234)
    for _attempt in range(2):
        proc = _ingest(folder, env)
        time.sleep(rng.uniform(6.0, 12.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    final = _ingest(folder, env)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    report = json.loads(out)
    assert report["frames"] == N and report["errors"] == []

    status = json.loads(run_cli("status", "--json").stdout)
    assert status["captures_kept"] == N  # each frame stored exactly once over all runs
    assert status["queue"] == 0

    export = json.loads(run_cli("export").stdout)
    refs = Counter(
        s["ref"] for m in export["episodic"] for s in m["sources"] if s["kind"] == "capture"
    )
    assert len(refs) == N, "every capture became a memory"
    assert max(refs.values()) == 1, "no capture is the source of two episodic events"
    texts = " ".join(m["text"] for m in export["episodic"])
    for i in (0, 37, 99):
        assert f"ticket {1000 + i}" in texts

    hits = json.loads(run_cli("search", "ticket 1042", "--json", "-k", "3").stdout)
    assert "1042" in hits[0]["text"]
