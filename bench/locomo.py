"""LoCoMo retrieval benchmark: turn-level evidence recall@k of ``engram search``.

Run: ``.venv/bin/python bench/locomo.py [--data PATH] [--out bench/results/locomo.json]``.

Each conversation of the dev split is imported into its own temporary ENGRAM_HOME in
offline mode (one episodic memory per turn, citing its dia_id), then every question of
categories 1-4 goes through ``EngramService.search`` (what ``engram search`` runs). A
question's recall@k is the share of its evidence turns among the first k distinct source
turns of the ranked results. Plain BM25 (bm25s, English stopwords) and plain dense
retrieval (the same MiniLM embedder, cosine) over single turns run in the same process as
baselines. With ``ENGRAM_LLM_BASE_URL`` / ``ENGRAM_LLM_MODEL`` set, ``--qa N`` also asks N
questions per conversation through the chat agent and has the LLM judge the answers with
``bench/judge_prompt.md``.

``--set NAME=VALUE`` overrides a retrieval constant of ``engram.core.memory.search`` (e.g.
``--set CONTEXT_WEIGHT=0`` or ``--set WEIGHTS.recency=0``) for ablations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "desktop"))

DEFAULT_DATA = ROOT.parent / "shared" / "bench-data" / "locomo" / "locomo-dev5.json"
KS = (1, 5, 10, 20)
CATEGORIES = (1, 2, 3, 4)
CAT_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
LLM_VARS = ("ENGRAM_LLM_BASE_URL", "ENGRAM_LLM_MODEL", "ENGRAM_LLM_API_KEY")


def turns_of(sample: dict) -> list[tuple[str, str, str]]:
    """(dia_id, speaker, text as imported) for every turn, in order."""
    conv = sample["conversation"]
    keys = sorted(
        (
            k
            for k in conv
            if k.startswith("session_")
            and k.split("_")[1].isdigit()
            and not k.endswith("date_time")
        ),
        key=lambda k: int(k.split("_")[1]),
    )
    out = []
    for key in keys:
        for t in conv[key]:
            text = t["text"]
            if t.get("blip_caption"):
                text = f"{text} [image: {t['blip_caption'].strip()}]".strip()
            out.append((t["dia_id"], t["speaker"], text))
    return out


def recall_at(ranked_refs: list[str], evidence: set[str], k: int) -> float:
    seen: list[str] = []
    for r in ranked_refs:
        if r not in seen:
            seen.append(r)
        if len(seen) == k:
            break
    return len(evidence & set(seen)) / len(evidence)


def hit_refs(hits: list[Any]) -> list[str]:
    return [s.ref for h in hits for s in h.memory.sources if s.kind == "chat"]


def import_conversation(svc: Any, sample: dict, workdir: Path) -> dict:
    """Through ``svc.import_chat`` when the offline agent is wired; else the same shape."""
    path = workdir / f"{sample['sample_id']}.json"
    path.write_text(json.dumps([sample]))
    try:
        import engram.core.agents.factory  # noqa: F401

        return svc.import_chat(str(path), "locomo")
    except ImportError:
        from engram.core.agents.batch import MessageItem
        from engram.core.agents.chat_import import load_chat
        from engram.core.agents.offline import message_memory

        loaded = load_chat(path, "locomo")
        items = [
            message_memory(
                MessageItem(m.conversation, m.ref, m.speaker, m.text, m.at, m.session), None
            )
            for m in loaded.messages
        ]
        svc.store.add_many(items)
        return {"messages": len(items), "memories": {"episodic": len(items)}, "path": "add_many"}


def baselines(
    turns: list[tuple[str, str, str]], embedder: Any, cache: Path | None = None
) -> tuple[Any, Any]:
    import bm25s
    import numpy as np

    ids = [t[0] for t in turns]
    corpus = [t[2] for t in turns]
    bm = bm25s.BM25()
    bm.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    if cache is not None and cache.exists():
        vecs = np.load(cache)
    else:
        vecs = embedder.embed(corpus)
        if cache is not None:
            np.save(cache, vecs)

    def bm25(q: str, k: int) -> list[str]:
        toks = bm25s.tokenize([q], stopwords="en", show_progress=False)
        if not toks.vocab:
            return []
        res, _ = bm.retrieve(toks, k=min(k, len(ids)), show_progress=False)
        return [ids[i] for i in res[0]]

    def dense(q: str, k: int) -> list[str]:
        qv = embedder.embed([q])[0]
        order = np.argsort(-(vecs @ qv))[:k]
        return [ids[i] for i in order]

    return bm25, dense


def apply_overrides(pairs: list[str]) -> dict[str, Any]:
    from engram.core.memory import search

    done: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        val: Any = json.loads(value)
        if "." in name:
            table, key = name.split(".", 1)
            getattr(search, table)[key] = val
        else:
            if not hasattr(search, name):
                raise SystemExit(f"--set: engram.core.memory.search has no {name}")
            setattr(search, name, val)
        done[name] = val
    return done


def summarise(rows: list[dict], systems: list[str]) -> dict:
    out: dict[str, Any] = {}
    for sysname in systems:
        per: dict[str, Any] = {}
        groups = {
            "all": rows,
            **{str(c): [r for r in rows if r["category"] == c] for c in CATEGORIES},
        }
        for g, rs in groups.items():
            if not rs:
                continue
            per[g] = {
                f"R@{k}": round(statistics.fmean(r[sysname][str(k)] for r in rs), 3) for k in KS
            }
            per[g]["n"] = len(rs)
        out[sysname] = per
    return out


def table(summary: dict, latency: dict) -> str:
    lines = ["| system | questions | R@1 | R@5 | R@10 | R@20 |", "|---|---|---|---|---|---|"]
    for sysname, label in (
        ("engram", "engram search (v2)"),
        ("bm25", "plain BM25 (bm25s)"),
        ("dense", "plain dense (MiniLM)"),
    ):
        s = summary[sysname]["all"]
        lines.append(
            f"| {label} | {s['n']} | {s['R@1']:.3f} | {s['R@5']:.3f} | "
            f"{s['R@10']:.3f} | {s['R@20']:.3f} |"
        )
    lines += [
        "",
        "| category | n | engram R@10 | BM25 R@10 | dense R@10 | engram R@20 |",
        "|---|---|---|---|---|---|",
    ]
    for c in CATEGORIES:
        e = summary["engram"].get(str(c))
        if not e:
            continue
        b, d = summary["bm25"][str(c)], summary["dense"][str(c)]
        lines.append(
            f"| {c} {CAT_NAMES[c]} | {e['n']} | {e['R@10']:.3f} | {b['R@10']:.3f} | "
            f"{d['R@10']:.3f} | {e['R@20']:.3f} |"
        )
    lines += [
        "",
        f"search latency (EngramService.search, k=20): p50 {latency['p50_ms']:.1f} ms, "
        f"p95 {latency['p95_ms']:.1f} ms over {latency['n']} queries",
    ]
    return "\n".join(lines)


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    i = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[i]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "locomo.json")
    ap.add_argument("--conversations", type=int, default=0, help="only the first N")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--keep", type=Path, help="reuse/keep imported homes in this folder")
    ap.add_argument("--qa", type=int, default=0, help="LLM-judged QA: questions per conv")
    args = ap.parse_args(argv)

    llm_env = {v: os.environ.pop(v) for v in LLM_VARS if v in os.environ}
    os.environ.pop("OPENAI_API_KEY", None)
    overrides = apply_overrides(args.set)
    samples = json.loads(args.data.read_text())
    if args.conversations:
        samples = samples[: args.conversations]

    from engram.core.config import Paths
    from engram.core.memory.embed import LocalEmbedder
    from engram.core.service import EngramService

    embedder = LocalEmbedder()
    rows: list[dict] = []
    latencies: list[float] = []
    qa_rows: list[dict] = []
    abst: list[dict] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="engram-locomo-") as tmp:
        base = args.keep or Path(tmp)
        for sample in samples:
            sid = sample["sample_id"]
            home = base / sid
            reuse = (home / "imported").exists()
            home.mkdir(parents=True, exist_ok=True)
            (home / "home").mkdir(exist_ok=True)
            os.environ.update(
                {
                    "ENGRAM_HOME": str(home / "engram"),
                    "HOME": str(home / "home"),
                    "ENGRAM_PASSPHRASE": "locomo-bench",
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                }
            )
            t0 = time.perf_counter()
            svc = EngramService(paths=Paths(home / "engram"), embedder=embedder)
            try:
                if not reuse:
                    imported = import_conversation(svc, sample, home)
                    (home / "imported").write_text(json.dumps(imported, default=str))
                t_import = time.perf_counter() - t0
                turns = turns_of(sample)
                valid = {t[0] for t in turns}
                bm25, dense = baselines(turns, embedder, home / "turns.npy" if args.keep else None)
                n = 0
                for qa in sample["qa"]:
                    if qa.get("category") not in CATEGORIES:
                        continue
                    ev = {e.strip() for e in qa.get("evidence", []) if e.strip() in valid}
                    if not ev:
                        continue
                    q = qa["question"]
                    t1 = time.perf_counter()
                    hits = svc.search(q, k=max(KS))
                    latencies.append(time.perf_counter() - t1)
                    refs = {
                        "engram": hit_refs(hits),
                        "bm25": bm25(q, max(KS)),
                        "dense": dense(q, max(KS)),
                    }
                    row = {
                        "conv": sid,
                        "question": q,
                        "category": qa["category"],
                        "evidence": sorted(ev),
                    }
                    for name, ranked in refs.items():
                        row[name] = {str(k): recall_at(ranked, ev, k) for k in KS}
                    rows.append(row)
                    n += 1
                abst += abstention_rows(svc, sample, samples, valid)
                if args.qa and llm_env:
                    qa_rows += run_qa(svc, sample, llm_env, args.qa)
                print(
                    f"{sid}: {len(turns)} turns, {n} questions, import {t_import:.1f} s",
                    file=sys.stderr,
                )
            finally:
                svc.close()
    summary = summarise(rows, ["engram", "bm25", "dense"])
    latency = {
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "n": len(latencies),
    }
    result: dict[str, Any] = {
        "data": str(args.data),
        "questions": len(rows),
        "summary": summary,
        "latency": latency,
        "overrides": overrides,
        "seconds": round(time.perf_counter() - started, 1),
    }
    result["abstention"] = abstention_summary(abst)
    if qa_rows:
        result["qa"] = {
            "n": len(qa_rows),
            "accuracy": round(statistics.fmean(r["correct"] for r in qa_rows), 3),
            "rows": qa_rows,
        }
    print(table(summary, latency))
    a = result["abstention"]
    print(
        f"\noffline abstention: answers {a['answered_pos']:.1%} of {a['n_pos']} answerable "
        f"questions (evidence in the top 5: {a['answered_pos_found']:.1%}); abstains on "
        f"{a['abstained_neg']:.1%} of {a['n_neg']} questions about another conversation "
        "(names swapped)"
    )
    if qa_rows:
        print(
            f"\nLLM-judged QA accuracy: {result['qa']['accuracy']:.3f} ({len(qa_rows)} questions)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result["rows"] = rows
    args.out.write_text(json.dumps(result, indent=1))
    return 0


def abstention_rows(svc: Any, sample: dict, samples: list[dict], valid: set[str]) -> list[dict]:
    """Evidence features of the offline answerer: for this conversation's questions
    (answerable) and for the next conversation's questions with its speaker names swapped
    for this one's (plausible, but not remembered)."""
    import re

    from engram.core.agents import answer
    from engram.core.memory import rank
    from engram.core.memory.search import known_actors

    actors = known_actors(svc.store)
    here = sample["conversation"]
    other = samples[(samples.index(sample) + 1) % len(samples)]
    there = other["conversation"]
    swap = {there["speaker_a"]: here["speaker_a"], there["speaker_b"]: here["speaker_b"]}
    out = []
    for qa, positive in [(q, True) for q in sample["qa"]] + [(q, False) for q in other["qa"]]:
        if qa.get("category") not in CATEGORIES or other is sample:
            continue
        q = qa["question"]
        if not positive:
            for old, new in swap.items():
                q = re.sub(rf"\b{re.escape(old)}\b", new, q)
        hits = svc.search(q, k=8)
        names = rank.name_mentions(q, actors)
        ev = answer.evidence(q, hits, names)
        found = positive and bool(
            {e for e in qa.get("evidence", []) if e in valid} & set(hit_refs(hits[:5]))
        )
        out.append(
            {
                "positive": positive,
                "found": found,
                "coverage": round(ev.coverage, 3),
                "cosine": round(ev.cosine, 3),
                "exact": ev.exact,
                "answerable": ev.answerable,
            }
        )
    return out


def abstention_summary(rows: list[dict]) -> dict:
    pos = [r for r in rows if r["positive"]]
    found = [r for r in pos if r["found"]]
    neg = [r for r in rows if not r["positive"]]
    rate = lambda rs, key, want: (  # noqa: E731
        statistics.fmean(r[key] is want for r in rs) if rs else float("nan")
    )
    return {
        "n_pos": len(pos),
        "n_neg": len(neg),
        "answered_pos": rate(pos, "answerable", True),
        "answered_pos_found": rate(found, "answerable", True),
        "abstained_neg": rate(neg, "answerable", False),
        "rows": rows,
    }


def run_qa(svc: Any, sample: dict, llm_env: dict, per_conv: int) -> list[dict]:
    """Ask questions through the chat agent with the LLM; judge each answer with it."""
    from engram.core.agents.chat import ChatAgent
    from engram.core.llm.client import LLMClient, LLMConfig

    judge_prompt = (ROOT / "bench" / "judge_prompt.md").read_text()
    client = LLMClient(
        LLMConfig(
            base_url=llm_env["ENGRAM_LLM_BASE_URL"],
            model=llm_env.get("ENGRAM_LLM_MODEL", ""),
            api_key=llm_env.get("ENGRAM_LLM_API_KEY"),
            temperature=0.0,
        )
    )
    agent = ChatAgent(svc.store, client)
    out = []
    try:
        qs = [q for q in sample["qa"] if q.get("category") in CATEGORIES][:per_conv]
        for qa in qs:
            answer = agent.ask(qa["question"])
            gold = qa.get("answer", qa.get("adversarial_answer", ""))
            prompt = (
                judge_prompt.replace("{question}", qa["question"])
                .replace("{gold}", str(gold))
                .replace("{answer}", answer.text)
            )
            verdict = client.chat([{"role": "user", "content": prompt}], max_tokens=20).text
            out.append(
                {
                    "question": qa["question"],
                    "gold": gold,
                    "answer": answer.text,
                    "category": qa["category"],
                    "verdict": verdict.strip(),
                    "correct": int(
                        "CORRECT" in verdict.upper() and "INCORRECT" not in verdict.upper()
                    ),
                }
            )
    finally:
        client.close()
    return out


if __name__ == "__main__":
    sys.exit(main())
