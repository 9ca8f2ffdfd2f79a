"""The store: six types round trip, versioning, forget, reconcile, keys, concurrency."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta

import pytest

from engram.core.memory.models import MemoryValidationError
from engram.core.memory.store import NotFound

SAMPLES = {
    "episodic": {
        "summary": "Reviewed the quarterly roadmap with Priya",
        "event_type": "meeting",
        "occurred_at": "2026-11-20T10:00:00+00:00",
        "tree_path": "work/meetings",
    },
    "semantic": {
        "name": "Zanzibar",
        "summary": "Codename of the billing rewrite",
        "details": "Owned by the payments team",
        "tree_path": ["work", "projects"],
    },
    "procedural": {
        "entry_type": "workflow",
        "summary": "Deploy the staging cluster",
        "steps": ["run make build", "push the image", "kubectl rollout restart"],
    },
    "resource": {
        "title": "Onboarding.pdf",
        "resource_type": "document",
        "summary": "New hire guide",
        "content": "Welcome aboard the narwhal team",
    },
    "knowledge_vault": {
        "entry_type": "credential",
        "source": "router admin page",
        "sensitivity": "high",
        "caption": "Home router admin password",
        "secret_value": "hunter2-ocelot",
    },
}


def test_round_trip_every_type(svc):
    for mtype, fields in SAMPLES.items():
        m = svc.add_memory(mtype, dict(fields))
        got = svc.get_memory(m.id)
        assert got.type == mtype
        assert got.id.startswith(
            {
                "episodic": "ep_",
                "semantic": "se_",
                "procedural": "pr_",
                "resource": "re_",
                "knowledge_vault": "kv_",
            }[mtype]
        )
        for key, value in fields.items():
            if key in ("secret_value", "occurred_at", "tree_path"):
                continue
            assert got.fields[key] == value
        assert got.sources and got.sources[0].kind == "user"
    core = svc.add_memory("core", {"label": "human", "value": "Name: Sam. Likes sailing."})
    assert svc.get_memory(core.id).fields["value"].startswith("Name: Sam")
    assert svc.store.counts() == {
        "core": 1,
        "episodic": 1,
        "semantic": 1,
        "procedural": 1,
        "resource": 1,
        "knowledge_vault": 1,
    }
    ep = svc.list_memories("episodic")[0]
    assert ep.fields["tree_path"] == ["work", "meetings"]
    assert ep.occurred_at == datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_validation_errors_name_the_field(svc):
    with pytest.raises(MemoryValidationError, match="summary"):
        svc.add_memory("episodic", {"event_type": "x"})
    with pytest.raises(MemoryValidationError, match="sensitivity"):
        svc.add_memory("knowledge_vault", {"caption": "x", "sensitivity": "extreme"})
    with pytest.raises(MemoryValidationError, match="unknown memory type"):
        svc.add_memory("dreams", {"summary": "x"})
    with pytest.raises(MemoryValidationError, match="bogus"):
        svc.add_memory("semantic", {"name": "a", "summary": "b", "bogus": 1})
    assert sum(svc.store.counts().values()) == 0


def test_core_block_limit_and_single_block(svc):
    svc.add_memory("core", {"label": "persona", "value": "Helpful.", "limit": 100})
    with pytest.raises(MemoryValidationError, match="over its limit of 100"):
        svc.add_memory("core", {"label": "persona", "value": "x" * 101})
    m = svc.add_memory("core", {"label": "persona", "value": "Concise and kind."})
    assert svc.store.counts()["core"] == 1
    assert svc.store.core_block("persona").id == m.id
    assert len(svc.history(m.id)) == 2


def test_update_writes_a_version_and_closes_the_old(svc):
    m1 = svc.add_memory("semantic", {"name": "Lena", "summary": "Lena works in Berlin"})
    m2 = svc.edit_memory(m1.id, {"summary": "Lena moved to Lisbon"})
    assert m2.id != m1.id and m2.lineage == m1.id
    old = svc.get_memory(m1.id)
    assert old.superseded_by == m2.id and old.valid_until is not None and not old.current
    assert [h.id for h in svc.history(m2.id)] == [m1.id, m2.id]
    assert svc.store.latest(m1.id).id == m2.id
    hits = svc.search("Lena Berlin", k=5)
    assert [h.memory.id for h in hits] == [m2.id]  # the old version is not searchable
    with pytest.raises(MemoryValidationError, match="old version"):
        svc.edit_memory(m1.id, {"summary": "again"})
    assert svc.store.counts()["semantic"] == 1
    assert m1.id not in svc.store.vectors.ids("semantic")


def test_vault_secret_sealed_apart(svc):
    m = svc.add_memory("knowledge_vault", dict(SAMPLES["knowledge_vault"]))
    assert m.has_secret and "secret_value" not in m.fields
    assert "hunter2" not in str(m.public())
    assert svc.search("hunter2-ocelot") == [] or all(
        "hunter2" not in h.public()["text"] for h in svc.search("hunter2-ocelot")
    )
    assert svc.reveal_secret(m.id) == "hunter2-ocelot"
    text = svc.store.ledger.scalar("SELECT text FROM memories WHERE id = ?", (m.id,))
    assert "hunter2" not in text
    blob = svc.store.ledger.scalar("SELECT secret FROM memories WHERE id = ?", (m.id,))
    assert b"hunter2" not in blob
    m2 = svc.edit_memory(m.id, {"caption": "Router admin password (new)"})
    assert svc.reveal_secret(m2.id) == "hunter2-ocelot"
    assert "hunter2" not in str(svc.export())


def test_delete_removes_rows_fts_vectors_and_versions(svc):
    m1 = svc.add_memory("resource", {"title": "Budget.xlsx", "content": "Marmalade budget 4411"})
    m2 = svc.edit_memory(m1.id, {"content": "Marmalade budget 4412"})
    assert svc.delete_memory(m2.id) == 2
    with pytest.raises(NotFound):
        svc.get_memory(m1.id)
    q = svc.store.ledger.scalar
    assert q("SELECT count(*) FROM memory_fts WHERE memory_fts MATCH 'marmalade'") == 0
    assert q("SELECT count(*) FROM memory_sources") == 0
    assert q("SELECT count(*) FROM embeddings") == 0
    assert svc.store.vectors.ids("resource") == set()
    assert svc.search("marmalade budget") == []


def test_forget_by_time_range_and_app(svc):
    from engram.core.memory.store import NewMemory

    base = datetime(2026, 11, 1, 12, tzinfo=UTC)
    items = [
        NewMemory(
            "episodic",
            {
                "summary": f"Event number {i} about otters",
                "occurred_at": (base + timedelta(days=i)).isoformat(),
            },
            app="firefox" if i % 2 else "code",
        )
        for i in range(6)
    ]
    svc.add_memories(items)
    out = svc.forget(since=base + timedelta(days=2), until=base + timedelta(days=4))
    assert out["memories"] == 2
    left = sorted(m.fields["summary"] for m in svc.list_memories("episodic"))
    assert left == [f"Event number {i} about otters" for i in (0, 1, 4, 5)]
    out = svc.forget(app="firefox")
    assert out["memories"] == 2
    assert {m.fields["summary"] for m in svc.list_memories("episodic")} == {
        "Event number 0 about otters",
        "Event number 4 about otters",
    }
    assert len(svc.store.vectors.ids("episodic")) == 2
    with pytest.raises(ValueError):
        svc.forget()


def test_time_and_type_filters(svc):
    svc.add_memory(
        "episodic", {"summary": "Kayak trip planning", "occurred_at": "2026-03-10T09:00:00+00:00"}
    )
    svc.add_memory(
        "episodic",
        {"summary": "Kayak rental invoice paid", "occurred_at": "2026-05-02T09:00:00+00:00"},
    )
    svc.add_memory("semantic", {"name": "Kayak", "summary": "A narrow boat"})
    march = svc.search(
        "kayak", since=datetime(2026, 3, 1, tzinfo=UTC), until=datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert [h.memory.fields["summary"] for h in march] == ["Kayak trip planning"]
    sem = svc.search("kayak", types=["semantic"])
    assert [h.memory.type for h in sem] == ["semantic"]
    shape = svc.search("kayak")[0].public()
    assert set(shape) == {"id", "type", "score", "text", "occurred_at", "sources"}


def test_reconcile_rebuilds_deleted_vector_dir(svc, embedder):
    from engram.core.service import EngramService

    for i in range(5):
        svc.add_memory("semantic", {"name": f"Fact {i}", "summary": f"Pelican fact {i}"})
    svc.close()
    shutil.rmtree(svc.paths.vectors)
    again = EngramService(embedder=embedder)
    try:
        assert again.reconciled["added"] == 5
        assert len(again.store.vectors.ids("semantic")) == 5
        assert again.search("pelican", k=3)[0].ranks.get("vector") == 1
        # a vector whose memory is gone is removed
        again.store.vectors.upsert("semantic", ["se_orphan"], embedder.embed(["orphan"]), [0.0])
        assert again.store.reconcile()["removed"] == 1
    finally:
        again.close()
    svc.store = again.store  # let the fixture close something open


def test_wrong_passphrase_is_a_clear_error_and_touches_nothing(isolated_env, monkeypatch, embedder):
    from engram.core.keys import KeyUnavailable, WrongPassphrase
    from engram.core.service import EngramService

    monkeypatch.setenv("ENGRAM_PASSPHRASE", "correct horse")
    s = EngramService(embedder=embedder)
    s.add_memory("semantic", {"name": "x", "summary": "guarded"})
    s.close()
    ledger = isolated_env / "ledger.db"
    before = ledger.read_bytes()
    monkeypatch.setenv("ENGRAM_PASSPHRASE", "wrong horse")
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        EngramService(embedder=embedder)
    assert ledger.read_bytes() == before
    monkeypatch.delenv("ENGRAM_PASSPHRASE")
    with pytest.raises(KeyUnavailable, match="passphrase"):
        EngramService(embedder=embedder)
    monkeypatch.setenv("ENGRAM_PASSPHRASE", "correct horse")
    s = EngramService(embedder=embedder)
    assert s.store.counts()["semantic"] == 1
    s.close()


def test_wrong_raw_key_cannot_read_the_ledger(svc):
    import os

    from engram.core.memory.ledger import LedgerError, connect

    svc.add_memory("semantic", {"name": "x", "summary": "y"})
    with pytest.raises(LedgerError, match="wrong key"):
        connect(svc.paths.ledger, os.urandom(32))


def test_keyring_holds_the_key_not_the_disk(svc):
    import json

    import keyring

    meta = json.loads(svc.paths.keyfile.read_text())
    assert meta["source"] == "keyring" and "wrapped" not in meta
    stored = keyring.get_password("engram", f"data-key:{meta['store_id']}")
    assert stored and stored not in svc.paths.keyfile.read_text()
    assert oct(svc.paths.keyfile.stat().st_mode & 0o777) == "0o600"
    assert oct(svc.paths.data.stat().st_mode & 0o777) == "0o700"
    assert oct(svc.paths.ledger.stat().st_mode & 0o777) == "0o600"


def test_concurrent_writers_all_land(svc):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                svc.add_memory("episodic", {"summary": f"thread {n} event {i}"})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert svc.store.counts()["episodic"] == 40
    assert len(svc.store.vectors.ids("episodic")) == 40
    ids = {m.id for m in svc.list_memories("episodic", limit=100)}
    assert len(ids) == 40


def test_concurrent_edits_of_one_memory_never_fork(svc):
    m = svc.add_memory("semantic", {"name": "Counter", "summary": "v0"})
    results: list[str] = []

    def edit(n: int) -> None:
        try:
            svc.edit_memory(m.id, {"summary": f"v{n}"})
            results.append("ok")
        except MemoryValidationError:
            results.append("conflict")

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") >= 1
    assert svc.store.counts()["semantic"] == 1  # exactly one current version
    hist = svc.history(m.id)
    assert len(hist) == 1 + results.count("ok")


def test_migrations_are_recorded_once(svc, embedder):
    from engram.core.memory.migrations import MIGRATIONS
    from engram.core.service import EngramService

    names = [r[0] for r in svc.store.ledger.query("SELECT name FROM schema_migrations")]
    assert names == [m.__name__ for m in MIGRATIONS]
    svc.close()
    again = EngramService(embedder=embedder)
    assert again.store.ledger.applied_migrations == []
    again.close()
    svc.store = again.store


def test_hook_fires_on_change(svc):
    seen: list[list[str]] = []
    svc.store.events.memory_did_change.append(seen.append)
    m = svc.add_memory("semantic", {"name": "a", "summary": "b"})
    svc.delete_memory(m.id)
    assert seen == [[m.id], [m.id]]
