"""The inbox and the memory worker: batching, parking, rollback, crash recovery."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from engram.core.agents.batch import Batch, BatchResult, MessageItem
from engram.core.agents.worker import MemoryWorker
from engram.core.memory.inbox import MAX_ATTEMPTS, Inbox, NewCapture
from engram.core.memory.store import NewMemory

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


class WritingAgent:
    """Writes one episodic memory per item, then optionally fails (a half-done batch)."""

    def __init__(self, store, fail_after: int | None = None):
        self.store = store
        self.fail_after = fail_after
        self.batches: list[Batch] = []

    def process(self, batch: Batch) -> BatchResult:
        self.batches.append(batch)
        res = BatchResult()
        for i, c in enumerate(batch.captures):
            if self.fail_after is not None and i >= self.fail_after:
                raise RuntimeError("LLM went away mid-batch")
            self.store.add_many(
                [
                    NewMemory(
                        "episodic",
                        {"summary": c.text, "occurred_at": c.at.isoformat()},
                        sources=[{"kind": "capture", "ref": c.uid}],
                        trust="screen",
                        batch_id=batch.id,
                    )
                ]
            )
            res.add("episodic")
        return res


def _caps(inbox: Inbox, n: int) -> list[str]:
    return [
        inbox.add_capture(
            NewCapture(
                at=T0 + timedelta(seconds=i),
                monitor=0,
                app="app",
                title="t",
                url=None,
                text=f"capture text {i}",
            )
        )[0]
        for i in range(n)
    ]


def test_batches_of_k_and_done(svc):
    inbox = Inbox(svc.store)
    _caps(inbox, 45)
    agent = WritingAgent(svc.store)
    w = MemoryWorker(inbox, agent, batch_size=20, batch_seconds=3600)
    outs = [w.run_once(), w.run_once(), w.run_once()]
    assert [o.items for o in outs[:2]] == [20, 20]
    assert outs[2] is None  # 5 left, not due yet (neither K nor T reached)
    assert w.drain()[0].items == 5
    assert svc.store.counts()["episodic"] == 45
    assert inbox.pending() == {"queued": 0, "processing": 0, "parked": 0}


def test_time_trigger(svc):
    inbox = Inbox(svc.store)
    _caps(inbox, 3)
    w = MemoryWorker(inbox, WritingAgent(svc.store), batch_size=20, batch_seconds=0.0)
    assert w.run_once().items == 3


def test_failed_batch_rolls_back_and_parks_then_retries(svc):
    inbox = Inbox(svc.store)
    _caps(inbox, 5)
    bad = WritingAgent(svc.store, fail_after=3)
    w = MemoryWorker(inbox, bad, batch_size=20)
    out = w.run_once(force=True)
    assert out.error and "went away" in out.error
    assert svc.store.counts()["episodic"] == 0  # the 3 half-done writes were undone
    assert inbox.pending()["parked"] == 5
    assert w.last_error
    good = WritingAgent(svc.store)
    w2 = MemoryWorker(inbox, good, batch_size=20)
    assert w2.run_once(force=True) is None  # parked items wait for the retry
    assert w2.drain(include_parked=True)[0].items == 5
    assert svc.store.counts()["episodic"] == 5


def test_parked_forever_stops_after_max_attempts(svc):
    inbox = Inbox(svc.store)
    _caps(inbox, 2)
    w = MemoryWorker(inbox, WritingAgent(svc.store, fail_after=0), batch_size=20)
    for _ in range(MAX_ATTEMPTS + 2):
        w.drain(include_parked=True)
    rows = svc.store.ledger.query("SELECT status, attempts, error FROM captures")
    assert all(r[0] == "parked" and r[1] == MAX_ATTEMPTS and "went away" in r[2] for r in rows)


def test_recover_after_crash_mid_batch(svc, embedder):
    """A batch left 'processing' (process killed) is rolled back and redone exactly once."""
    from engram.core.service import EngramService

    inbox = Inbox(svc.store)
    uids = _caps(inbox, 4)
    batch = inbox.claim(10)
    WritingAgent(svc.store, fail_after=None).process(Batch(batch.id, batch.captures[:2]))
    assert svc.store.counts()["episodic"] == 2  # ... and then the process died
    svc.close()
    again = EngramService(embedder=embedder)
    try:
        assert again.recovered_batches == 1
        assert again.store.counts()["episodic"] == 0
        w = MemoryWorker(again.inbox, WritingAgent(again.store), batch_size=20)
        w.drain()
        mems = again.list_memories("episodic", limit=100)
        assert sorted(m.sources[0].ref for m in mems) == sorted(uids)
    finally:
        again.close()
    svc.store = again.store


def test_messages_are_idempotent(svc):
    inbox = Inbox(svc.store)
    msgs = [MessageItem("conv1", f"D1:{i}", "Lena", f"hello {i}", T0) for i in range(5)]
    assert inbox.add_messages(msgs) == (5, 0)
    assert inbox.add_messages(msgs) == (0, 5)
    b = inbox.claim(3)
    assert [m.ref for m in b.messages] == ["D1:0", "D1:1", "D1:2"]


def test_rollback_restores_updated_memory(svc):
    m = svc.add_memory("semantic", {"name": "Lena", "summary": "Lives in Berlin"})
    new = svc.store.update(m.id, {"summary": "Lives in Lisbon"}, batch_id="b_bad")
    extra = svc.store.add("semantic", {"name": "Poison", "summary": "bad"}, batch_id="b_bad")
    out = svc.store.rollback_batch("b_bad")
    assert out == {"removed": 2, "restored": 1}
    assert svc.store.get(new.id) is None and svc.store.get(extra.id) is None
    back = svc.get_memory(m.id)
    assert back.current and back.fields["summary"] == "Lives in Berlin"
    assert [h.memory.id for h in svc.search("Lena Berlin", k=3)][0] == m.id


def test_retention_prunes_captures_but_keeps_memories(svc):
    inbox = Inbox(svc.store)
    old = NewCapture(
        at=datetime.now(UTC) - timedelta(days=40),
        monitor=0,
        app="a",
        title="t",
        url=None,
        text="old capture " * 50,
    )
    new = NewCapture(
        at=datetime.now(UTC), monitor=0, app="a", title="t", url=None, text="fresh capture"
    )
    inbox.add_capture(old)
    inbox.add_capture(new)
    MemoryWorker(inbox, WritingAgent(svc.store)).drain()
    assert inbox.prune(retention_days=30, budget_bytes=None) == 1
    assert svc.store.ledger.scalar("SELECT count(*) FROM captures") == 1
    assert svc.store.counts()["episodic"] == 2
    for i in range(5):
        inbox.add_capture(
            NewCapture(
                at=datetime.now(UTC),
                monitor=0,
                app="a",
                title="t",
                url=None,
                text=f"{i} " + secrets.token_urlsafe(750),  # ~1000 chars, ~760 B compressed
            )
        )
    MemoryWorker(inbox, WritingAgent(svc.store)).drain()
    assert inbox.prune(retention_days=0, budget_bytes=2500) >= 3
    assert inbox.capture_bytes() <= 2500


def test_capture_text_is_stored_compressed_and_reads_back(svc):
    from engram.core.memory.inbox import pack_text, unpack_text

    inbox = Inbox(svc.store)
    page = "\n".join(f"Quarterly report line {i}: revenue up, costs flat" for i in range(60))
    uid, _ = inbox.add_capture(
        NewCapture(at=datetime.now(UTC), monitor=0, app="a", title="t", url=None, text=page)
    )
    kind, size = svc.store.ledger.query(
        "SELECT typeof(text), length(text) FROM captures WHERE uid = ?", (uid,)
    )[0]
    assert kind == "blob" and size < len(page) / 3
    assert svc.capture_info(uid)["text"] == page
    assert Inbox(svc.store).claim(10).captures[0].text == page
    # rows written before compression (plain TEXT) and short texts read as they are
    assert unpack_text("plain old row") == "plain old row" and unpack_text(None) is None
    assert pack_text("short") == "short" and pack_text("caf\udce9 " * 20).startswith(b"x")
