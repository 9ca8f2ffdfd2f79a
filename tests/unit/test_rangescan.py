"""Range search over int8 copies of the stored vectors: exact enough, and always current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engram.core.memory import rangescan
from engram.core.memory.rangescan import quantize, range_scan
from engram.core.memory.store import NewMemory

T0 = datetime(2026, 10, 1, tzinfo=UTC)
TOPICS = ["solar panels", "sourdough bread", "tax return", "bike repair", "jazz concert"]


def note(text: str, at: datetime) -> NewMemory:
    return NewMemory(
        type="episodic",
        fields={"summary": text, "occurred_at": at, "actor": "user", "event_type": "note"},
        sources=[{"kind": "user", "ref": "t"}],
    )


def fact(text: str, at: datetime) -> NewMemory:
    return NewMemory(type="semantic", fields={"name": text[:20], "summary": text}, at=at)


@pytest.fixture
def month(svc, monkeypatch):
    monkeypatch.setattr(rangescan, "BUILD_CHUNK", 7)  # the build reads many small chunks
    mems = []
    for day in range(30):
        at = T0 + timedelta(days=day, hours=9)
        topic = TOPICS[day % len(TOPICS)]
        mems.append(note(f"Day {day}: notes about {topic} and the weekly plan", at))
        mems.append(fact(f"{topic} fact number {day}", at + timedelta(hours=1)))
    return svc.store.add_many(mems)


def exact(svc, query, types, since, until):
    where, params = svc.store._filters(types, since, until)
    rows = svc.store.ledger.query(
        "SELECT m.id, e.vector FROM memories m JOIN embeddings e ON e.memory_id = m.id "
        f"WHERE {where}",
        params,
    )
    vec = svc.embedder.embed([query])[0]
    sims = {r[0]: float(np.frombuffer(r[1], dtype=np.float32) @ vec) for r in rows}
    return sorted(sims, key=lambda m: -sims[m]), sims


def test_quantize_keeps_cosines_within_half_a_percent():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(200, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    q, scale = quantize(rows)
    query = rows[0]
    approx = (q.astype(np.float32) @ query) * scale
    assert np.abs(approx - rows @ query).max() < 0.005


@pytest.mark.parametrize("types", [["episodic", "semantic"], ["semantic"]])
def test_matches_an_exact_scan_of_the_ledger(svc, month, types):
    since, until = T0 + timedelta(days=5), T0 + timedelta(days=19)
    vec = svc.embedder.embed(["bread baking"])[0]
    found, matched = range_scan(svc.store).search(vec, types, since, until, 8)
    order, sims = exact(svc, "bread baking", types, since, until)
    assert matched == len(order) == 14 * len(types)
    assert [m for m, _s in found] == order[:8]
    assert all(abs(s - sims[m]) < 0.005 for m, s in found)


def test_follows_every_change_to_the_store(svc, month):
    since, until = T0, T0 + timedelta(days=40)
    scan = range_scan(svc.store)
    vec = svc.embedder.embed(["volcano eruption"])[0]

    def top() -> list[str]:
        return [m for m, _s in scan.search(vec, ["episodic"], since, until, 3)[0]]

    assert "volcano" not in str([svc.store.get(m).fields for m in top()])
    [added] = svc.store.add_many([note("We watched the volcano eruption on the news", T0)])
    assert top()[0] == added.id  # a new memory is found at once
    edited = svc.store.update(added.id, {"summary": "We went to a jazz concert instead"})
    assert added.id not in top() and edited.id not in top()[:1]  # the old version is gone
    svc.store.delete(edited.id)
    assert edited.id not in top()
    assert scan.search(vec, ["episodic"], since, until, 100)[1] == 30  # back to the month


def test_time_bounds_are_half_open(svc, month):
    day3 = T0 + timedelta(days=3, hours=9)
    vec = svc.embedder.embed(["plan"])[0]
    found, matched = range_scan(svc.store).search(
        vec, ["episodic"], day3, day3 + timedelta(days=1), 5
    )
    assert matched == 1 and svc.store.get(found[0][0]).fields["summary"].startswith("Day 3:")
    _found, matched = range_scan(svc.store).search(
        vec, ["episodic"], day3 - timedelta(hours=1), day3, 5
    )
    assert matched == 0


def test_the_app_builds_it_in_the_background_for_a_large_store(svc, month, monkeypatch):
    import threading

    from engram.core.memory import search

    scan = range_scan(svc.store)
    assert not scan._built
    monkeypatch.setattr(search, "EXACT_SCAN_MAX", 10_000)
    svc._prebuild_range_index()  # 60 memories: small, nothing to do
    assert not any(t.name == "engram-rangescan" for t in threading.enumerate())
    monkeypatch.setattr(search, "EXACT_SCAN_MAX", 50)
    svc._prebuild_range_index()
    for t in threading.enumerate():
        if t.name == "engram-rangescan":
            t.join(timeout=60)
    assert scan._built and scan._size == 60
