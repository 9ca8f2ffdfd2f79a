"""The data key in a real Secret Service keyring (gnome-keyring under dbus-run-session)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.keyring_real

SCRIPT = r"""
set -e
echo -n test-login-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
export PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring
{py} -m engram.cli memories add semantic --json --data '{{"name": "Ibis", "summary": "kept under a real keyring"}}'
{py} -m engram.cli search ibis --json
{py} -c 'import json, keyring, os
m = json.load(open(os.path.join(os.environ["ENGRAM_HOME"], "key.json")))
print(json.dumps({{"source": m["source"], "in_keyring": keyring.get_password("engram", "data-key:" + m["store_id"]) is not None}}))'
"""


@pytest.mark.skipif(not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
                    reason="gnome-keyring / dbus-run-session not installed "
                           "(apt-get install gnome-keyring dbus-daemon dbus-user-session)")
def test_data_key_lives_in_gnome_keyring(isolated_env, tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    env.pop("PYTHON_KEYRING_BACKEND", None)
    proc = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", SCRIPT.format(py=sys.executable)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith(("{", "["))]
    added, hits, key = lines
    assert hits[0]["id"] == added["id"]
    assert key == {"source": "keyring", "in_keyring": True}
    assert "wrapped" not in (isolated_env / "key.json").read_text()
