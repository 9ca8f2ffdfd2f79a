"""The CLI contract, end to end: the real `engram` in a subprocess with a temp ENGRAM_HOME."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def _json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_memories_search_status_export_round_trip(isolated_env, tmp_path):
    added = _json(
        run_cli(
            "memories",
            "add",
            "episodic",
            "--json",
            "--data",
            '{"summary": "Booked flight QX-4471 to Oslo", "event_type": "booking"}',
        )
    )
    assert added["id"].startswith("ep_") and added["type"] == "episodic"
    _json(
        run_cli(
            "memories",
            "add",
            "semantic",
            "--json",
            "--data",
            '{"name": "Lena", "summary": "Lena prefers the Thai place on Elm Street"}',
        )
    )
    hits = _json(run_cli("search", "QX-4471 flight", "--json", "-k", "5"))
    assert hits[0]["id"] == added["id"]
    assert set(hits[0]) == {"id", "type", "score", "text", "occurred_at", "sources"}
    assert hits[0]["sources"][0]["kind"] == "user"
    only_sem = _json(run_cli("search", "flight", "--type", "semantic", "--json"))
    assert all(h["type"] == "semantic" for h in only_sem)

    edited = _json(
        run_cli(
            "memories",
            "edit",
            added["id"],
            "--json",
            "--data",
            '{"summary": "Booked flight QX-4471 to Bergen"}',
        )
    )
    shown = _json(run_cli("memories", "show", edited["id"], "--history", "--json"))
    assert [h["id"] for h in shown["history"]] == [added["id"], edited["id"]]

    status = _json(run_cli("status", "--json"))
    for key in (
        "captures_seen",
        "captures_kept",
        "captures_excluded",
        "memories",
        "bytes_on_disk",
        "queue",
        "tokens_today",
    ):
        assert key in status
    assert status["memories"]["episodic"] == 1 and status["memories"]["semantic"] == 1
    assert status["bytes_on_disk"] > 0

    out = tmp_path / "export.json"
    _json(run_cli("export", "--output", str(out), "--json"))
    exported = json.loads(out.read_text())
    assert exported["episodic"][0]["fields"]["summary"].endswith("Bergen")

    listed = _json(run_cli("memories", "list", "--type", "episodic", "--json"))
    assert [m["id"] for m in listed] == [edited["id"]]
    gone = _json(run_cli("memories", "delete", edited["id"], "--json"))
    assert gone["versions"] == 2
    assert _json(run_cli("search", "QX-4471", "--json", "--type", "episodic")) == []


def test_errors_are_clear_with_exit_codes(isolated_env):
    bad = run_cli("memories", "add", "episodic", "--data", "{not json")
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr
    invalid = run_cli("memories", "add", "episodic", "--data", '{"event_type": "x"}')
    assert invalid.returncode == 1 and "summary" in invalid.stderr
    missing = run_cli("memories", "show", "ep_000000000000")
    assert missing.returncode == 1 and "not found" in missing.stderr
    baddate = run_cli("search", "x", "--since", "the day after never")
    assert baddate.returncode == 2 and "cannot read the date" in baddate.stderr
    badconf = run_cli("status", env={"ENGRAM_CAPTURE_INTERVAL": "fast"})
    assert badconf.returncode == 1 and "capture_interval" in badconf.stderr


def test_passphrase_store_via_env(isolated_env):
    env = {
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "ENGRAM_PASSPHRASE": "tr0ub4dor",
    }
    _json(
        run_cli(
            "memories",
            "add",
            "semantic",
            "--json",
            "--data",
            '{"name": "n", "summary": "s"}',
            env=env,
        )
    )
    wrong = run_cli("status", env={**env, "ENGRAM_PASSPHRASE": "nope"})
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
    none = run_cli("status", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert none.returncode == 1 and "ENGRAM_PASSPHRASE" in none.stderr
    assert _json(run_cli("status", "--json", env=env))["key_source"] == "passphrase"


def test_doctor_reports_each_check(isolated_env):
    proc = run_cli("doctor", "--json")
    data = json.loads(proc.stdout)
    names = {c["name"] for c in data["checks"]}
    assert names == {"display", "tesseract", "keyring", "store", "disk", "embeddings", "llm"}
    for c in data["checks"]:
        assert c["fix"] and c["detail"]
    emb = next(c for c in data["checks"] if c["name"] == "embeddings")
    assert emb["ok"], emb
    llm = next(c for c in data["checks"] if c["name"] == "llm")
    assert llm["ok"] and "offline" in llm["detail"]
