"""Opening the vector index is serialised across processes (the app and ``engram status``).

Chroma creates its tables and collections without a lock of its own; two processes opening
a fresh data dir at once once failed in CI with "table collections already exists".
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time

from tests.conftest import ROOT

_OPEN = """
import sys
from pathlib import Path
from engram.core.memory.vectors import VectorIndex
from engram.core.memory.models import MEMORY_TYPES
print("imported", flush=True)
index = VectorIndex(Path(sys.argv[1]))
for t in MEMORY_TYPES:
    index._col(t)
print("opened", flush=True)
"""


def test_a_second_process_waits_for_the_index_lock(isolated_env, tmp_path):
    path = tmp_path / "vectors"
    path.mkdir()
    with open(path / ".engram-lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as if another process were creating the tables
        proc = subprocess.Popen(
            [sys.executable, "-c", _OPEN, str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "imported"
        time.sleep(2.0)
        assert proc.poll() is None  # blocked on the lock
        assert not (path / "chroma.sqlite3").exists()  # and has not touched Chroma's files
        fcntl.flock(held, fcntl.LOCK_UN)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-1500:]
    assert out.strip() == "opened"


def test_processes_opening_a_fresh_index_together_all_succeed(isolated_env, tmp_path):
    path = tmp_path / "vectors"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.split() == ["imported", "opened"], err[-1500:]
