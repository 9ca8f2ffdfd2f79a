"""kill -9 at random moments of live capture and ingest; the store must lose and double nothing.

The short test (3 trials) runs always; the long one (30 trials) is marked slow. Each trial
reopens the store the way the next start would (reconcile + recover) and checks: the ledger
opens and passes ``PRAGMA quick_check``, every capture a reader saw committed before the kill
is still there, no capture is the source of two current episodic memories, and the vector
index holds exactly the ledger's current memory ids per type.
"""

from __future__ import annotations

import json

import pytest

from tests.reliability.crash import Painter, run_trials

pytestmark = pytest.mark.xvfb


def _run(n: int, tmp_path, embedder, display: str, seed: int, **kw):
    lines: list[str] = []
    with Painter(display):
        report = run_trials(
            n,
            embedder=embedder,
            work=tmp_path / "work",
            seed=seed,
            log=lambda r: lines.append(json.dumps(r.__dict__)),
            **kw,
        )
    summary = report.summary()
    print(json.dumps(summary, indent=1))
    print("\n".join(lines))
    return report, summary


def _assert_sound(report, summary, n: int) -> None:
    bad = [t for t in report.trials if t.missing or t.duplicates or t.quick_check != "ok"]
    assert not bad, bad
    assert summary["trials"] == n
    assert summary["ledger_opens"] == n
    assert summary["lost_acknowledged"] == 0
    assert summary["duplicate_memories"] == 0
    assert summary["index_reconciled"] == n
    assert report.final["ok"], report.final
    # the trials did real work: captures were committed and memories made from them
    assert summary["acknowledged_total"] > 0 and report.final["captures"] > 0


def test_kill9_short(isolated_env, tmp_path, embedder, xvfb_display):
    report, summary = _run(
        3, tmp_path, embedder, xvfb_display, seed=11, headless_kill=(6.0, 12.0), ingest_kill=(5, 9)
    )
    _assert_sound(report, summary, 3)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill9_thirty_trials(isolated_env, tmp_path, embedder, xvfb_display):
    report, summary = _run(
        30, tmp_path, embedder, xvfb_display, seed=2026, headless_kill=(5.0, 18.0)
    )
    _assert_sound(report, summary, 30)
    assert summary["ingest"] == 10 and summary["killed_while_batch_processing"] == 10
