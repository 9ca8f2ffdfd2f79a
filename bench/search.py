"""Search latency at 10k memories, with and without filters, plus store open/reconcile time.

Run: ``.venv/bin/python bench/search.py [--n 10000] [--queries 200]``.

The memories are synthetic but made of real text: LoCoMo chat turns (``--data``) composed
into episodic events (1-2 turns), semantic facts, resources (several turns as content),
procedures (turns as steps) and vault captions, spread over the last year, plus a few with
codes, IPs and amounts. Embedding 10k texts on two cores would take most of the run, so
each turn is embedded once with the real model and a memory's vector is the normalised sum
of its turns' vectors (stored through the normal ``add_many`` path, so the ledger, FTS and
Chroma hold exactly what they would); queries are embedded by the real model, as in use.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "desktop"))

DEFAULT_DATA = ROOT.parent / "shared" / "bench-data" / "locomo" / "locomo-dev5.json"


class ComposedEmbedder:
    """Known composed texts get the normalised sum of their parts' vectors; anything else
    (queries) goes to the real model."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.name = real.name
        self.dim = real.dim
        self.known: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if t not in self.known]
        if todo:
            out[todo] = self.real.embed([texts[i] for i in todo])
        for i, t in enumerate(texts):
            if t in self.known:
                out[i] = self.known[t]
        return out


def load_turns(path: Path) -> tuple[list[str], list[str], list[str]]:
    """Turn texts, speakers and the cat. 1-4 questions of the file."""
    texts, speakers, questions = [], [], []
    for sample in json.loads(path.read_text()):
        conv = sample["conversation"]
        for key, turns in conv.items():
            if key.startswith("session_") and isinstance(turns, list):
                for t in turns:
                    texts.append(t["text"])
                    speakers.append(t["speaker"])
        questions += [q["question"] for q in sample["qa"] if q.get("category") in (1, 2, 3, 4)]
    return texts, speakers, questions


def make_items(
    n: int, texts: list[str], speakers: list[str], rng: random.Random, now: datetime
) -> list[tuple[str, dict, list[int], datetime]]:
    out: list[tuple[str, dict, list[int], datetime]] = []
    kinds = ["episodic"] * 70 + ["semantic"] * 12 + ["resource"] * 9 + ["procedural"] * 6
    kinds += ["knowledge_vault"] * 3
    codes = [
        "Flight LH2042 to Munich departs 10:15",
        "Server 10.0.4.17 restarted after the kernel update",
        "Invoice total $1,249.00 for the new laptop",
        "Ticket INC-58213 closed by the on-call engineer",
    ]
    for i in range(n):
        at = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        kind = kinds[i % len(kinds)]
        j = rng.randrange(len(texts))
        parts = [j] + ([j + 1] if j + 1 < len(texts) and rng.random() < 0.5 else [])
        if kind == "episodic":
            summary = " ".join(texts[p] for p in parts)
            if i % 500 == 0:
                summary = codes[(i // 500) % len(codes)] + ". " + summary
                parts = []
            fields = {
                "summary": summary[:2000],
                "occurred_at": at,
                "actor": speakers[j],
                "event_type": "conversation",
                "tree_path": ["conversations", f"c{j // 400}"],
            }
        elif kind == "semantic":
            fields = {"name": " ".join(texts[j].split()[:4]), "summary": texts[j][:2000]}
        elif kind == "resource":
            parts = [(j + d) % len(texts) for d in range(5)]
            fields = {
                "title": texts[j][:80],
                "resource_type": "document",
                "content": "\n".join(texts[p] for p in parts),
            }
        elif kind == "procedural":
            parts = [(j + d) % len(texts) for d in range(3)]
            fields = {
                "entry_type": "guide",
                "summary": texts[j][:200],
                "steps": [texts[p][:300] for p in parts],
            }
        else:
            parts = [j]
            fields = {"caption": texts[j][:200], "entry_type": "note", "sensitivity": "low"}
        out.append((kind, fields, parts, at))
    return out


def timed(fn: Any, queries: list[str]) -> dict[str, float]:
    lat = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        lat.append(1000 * (time.perf_counter() - t))
    s = sorted(lat)
    return {
        "p50_ms": statistics.median(s),
        "p95_ms": s[min(len(s) - 1, int(0.95 * len(s)))],
        "n": len(s),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "search.json")
    args = ap.parse_args(argv)
    for v in ("ENGRAM_LLM_BASE_URL", "ENGRAM_LLM_MODEL", "ENGRAM_LLM_API_KEY", "OPENAI_API_KEY"):
        os.environ.pop(v, None)

    from engram.core.config import Paths
    from engram.core.memory.embed import LocalEmbedder
    from engram.core.memory.models import render_text, validate_fields
    from engram.core.memory.store import NewMemory
    from engram.core.service import EngramService

    rng = random.Random(7)
    texts, speakers, questions = load_turns(args.data)
    now = datetime.now(UTC)
    items = make_items(args.n, texts, speakers, rng, now)
    real = LocalEmbedder()
    used = sorted({p for _k, _f, parts, _a in items for p in parts})
    t0 = time.perf_counter()
    part_vecs = dict(zip(used, real.embed([texts[p] for p in used]), strict=True))
    t_embed = time.perf_counter() - t0
    emb = ComposedEmbedder(real)
    for kind, fields, parts, _at in items:
        if parts:
            text = render_text(kind, validate_fields(kind, fields).model_dump(mode="json"))
            v = np.sum([part_vecs[p] for p in parts], axis=0)
            emb.known[text] = (v / np.linalg.norm(v)).astype(np.float32)

    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="engram-search-bench-") as tmp:
        home = Path(tmp) / "engram"
        os.environ.update(
            {
                "ENGRAM_HOME": str(home),
                "HOME": tmp,
                "ENGRAM_PASSPHRASE": "search-bench",
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            }
        )
        svc = EngramService(paths=Paths(home), embedder=emb)
        t0 = time.perf_counter()
        for i in range(0, len(items), 1000):
            svc.store.add_many(
                [
                    NewMemory(
                        kind, fields, sources=[{"kind": "user", "ref": f"bench:{i + j}"}], at=at
                    )
                    for j, (kind, fields, _p, at) in enumerate(items[i : i + 1000])
                ]
            )
        t_insert = time.perf_counter() - t0
        svc.close()

        t0 = time.perf_counter()
        svc = EngramService(paths=Paths(home), embedder=emb)
        t_open = time.perf_counter() - t0
        qs = rng.sample(questions, min(args.queries, len(questions)))
        svc.search("warm up", k=10)
        month = now - timedelta(days=30)
        rows["hybrid, no filter"] = timed(lambda q: svc.search(q, k=10), qs)
        rows["type filter (episodic)"] = timed(
            lambda q: svc.search(q, k=10, types=["episodic"]), qs
        )
        rows["time filter (last 30 days)"] = timed(
            lambda q: svc.search(q, k=10, since=month, until=now), qs
        )
        rows["time phrase in query (last week)"] = timed(
            lambda q: svc.search(q.rstrip("?") + " last week?", k=10), qs
        )
        codes = ["LH2042", "10.0.4.17", "$1,249.00", "INC-58213"]
        rows["exact code query"] = timed(lambda q: svc.search(q, k=10), codes * 25)
        counts = svc.store.counts()
        svc.close()

        shutil.rmtree(home / "vectors")  # the index is derived: rebuilt from the ledger
        t0 = time.perf_counter()
        svc = EngramService(paths=Paths(home), embedder=emb)
        t_rebuild = time.perf_counter() - t0
        rebuilt = svc.reconciled
        svc.close()

    result = {
        "n": args.n,
        "memories": counts,
        "turn_embedding_s": round(t_embed, 1),
        "insert_s": round(t_insert, 1),
        "open_s": round(t_open, 2),
        "open_rebuild_index_s": round(t_rebuild, 2),
        "rebuilt": rebuilt,
        "latency": {k: {kk: round(vv, 1) for kk, vv in v.items()} for k, v in rows.items()},
    }
    print(f"{sum(counts.values())} memories ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    print("\n| search (k=10) | p50 ms | p95 ms | queries |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['n']} |")
    print(
        f"\nstore open (ledger + reconcile, index intact): {t_open:.2f} s; "
        f"open after deleting the vector index (rebuilt from the ledger): {t_rebuild:.2f} s "
        f"({rebuilt}); insert of {args.n} memories: {t_insert:.1f} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
