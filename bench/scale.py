"""Search latency, insert throughput, reopen and reconcile cost at 1k / 10k / 100k memories.

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--quick] [--profile]

Each size gets its own temp ENGRAM_HOME (file keyring, so no scrypt on open) filled with a
synthetic month of memories (below), then: inserts (``add_many`` batches of 500, vectors from
the cache, so the figure is the store's own cost; plus 500 more through the real embedder at
<= 10k), reopen (``EngramService(...)``: ledger, Chroma, the no-op reconcile, inbox
recovery), the no-op reconcile alone, search p50/p95 via ``EngramService.search`` (hybrid,
k=10, 40 queries x ``--reps``, the query embedded by the real local model every time) without
and with filters, and the reconcile after the Chroma dir is deleted. JSON goes to
``bench/results/scale.json``, a markdown table to stdout.

The corpus looks like what Engram makes from a working month: app-activity events with OCR
lines (the offline agent's shape: ``tree_path`` = [app], ``app`` set), chat turns grouped in
conversations, semantic facts, resources with paragraphs, a few procedures and vault
entries. Item ``i`` depends only on (seed, i), so the first 1k of the 100k set are the 1k set
and one embedding cache serves every size. Embedding 100k texts with the local int8 MiniLM
takes ~7 min on 2 cores, so vectors are cached in ``bench/results/`` (npz, keyed by a hash of
each text: a changed template only re-embeds the texts that changed).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "desktop"))
sys.path.insert(0, str(ROOT))

from engram.core.memory.models import render_text, validate_fields  # noqa: E402
from engram.core.memory.store import NewMemory  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SPAN_DAYS = 30

PEOPLE = [
    "Lena Fischer",
    "Omar Haddad",
    "Priya Raman",
    "Tomás Ortega",
    "Mei Chen",
    "Jonas Berg",
    "Aisha Bello",
    "Lukas Novak",
    "Sofia Rossi",
    "Kenji Watanabe",
    "Nadia Petrova",
    "Ethan Brooks",
    "Fatima Zahra",
    "Marco Bianchi",
    "Hannah Okafor",
    "Diego Alvarez",
    "Ingrid Larsen",
    "Ravi Kapoor",
    "Chloe Martin",
    "Yusuf Demir",
    "Elena Popescu",
    "Sam O'Neill",
    "Zara Ahmed",
    "Felix Wagner",
    "Amara Nwosu",
]
APPS = {
    "firefox": "browser",
    "code": "editor",
    "gnome-terminal": "terminal",
    "slack": "chat",
    "thunderbird": "mail",
    "libreoffice-writer": "office",
    "evince": "viewer",
    "zoom": "call",
    "figma-linux": "design",
    "obsidian": "notes",
}
PRETTY = {
    "firefox": "Firefox",
    "code": "Visual Studio Code",
    "gnome-terminal": "Terminal",
    "slack": "Slack",
    "thunderbird": "Thunderbird",
    "libreoffice-writer": "LibreOffice Writer",
    "evince": "Document Viewer",
    "zoom": "Zoom",
    "figma-linux": "Figma",
    "obsidian": "Obsidian",
}
PROJECTS = [
    "billing service",
    "onboarding flow",
    "search ranking",
    "data pipeline",
    "mobile release 4.2",
    "Q3 budget",
    "hiring loop",
    "Postgres migration",
    "design system",
    "customer portal",
    "latency dashboard",
    "GDPR audit",
    "pricing page",
    "offline sync",
    "invoice export",
    "kubernetes upgrade",
    "SSO integration",
    "analytics warehouse",
    "support macros",
    "API v3",
]
FILES = [
    "invoice.py",
    "ranker.go",
    "schema.sql",
    "deploy.yaml",
    "README.md",
    "budget.xlsx",
    "onboarding.tsx",
    "sync_worker.rs",
    "pricing.css",
    "alerts.tf",
    "export_csv.py",
    "Makefile",
    "settings.toml",
    "auth_middleware.ts",
    "report_q3.md",
    "migrate_0042.sql",
    "Dockerfile",
]
SITES = [
    "github.com",
    "docs.python.org",
    "stackoverflow.com",
    "news.ycombinator.com",
    "developer.mozilla.org",
    "grafana.internal",
    "jira.example.com",
    "arxiv.org",
    "en.wikipedia.org",
    "aws.amazon.com",
    "figma.com",
    "notion.so",
    "booking.com",
    "bbc.co.uk",
]
TOPICS = [
    "connection pool exhaustion",
    "flaky integration test",
    "memory leak in the worker",
    "timezone bug in reports",
    "slow dashboard query",
    "cache invalidation",
    "rate limiting",
    "retry with backoff",
    "schema migration lock",
    "OAuth token refresh",
    "CSV encoding issue",
    "p95 latency regression",
    "disk filling up",
    "certificate expiry",
    "feature flag rollout",
    "duplicate webhook deliveries",
    "pagination off by one",
    "dark mode contrast",
    "vendor contract renewal",
    "travel to Lisbon",
    "team offsite agenda",
    "quarterly review",
    "dentist appointment",
    "apartment lease",
    "tax return",
    "birthday present for Mia",
]
VERBS = [
    "reviewed",
    "fixed",
    "discussed",
    "drafted",
    "benchmarked",
    "deployed",
    "rolled back",
    "documented",
    "estimated",
    "paired on",
    "investigated",
    "approved",
    "tested",
]
WORDS = [
    "latency",
    "throughput",
    "replica",
    "shard",
    "index",
    "vacuum",
    "queue",
    "worker",
    "retry",
    "timeout",
    "backlog",
    "invoice",
    "ledger",
    "refund",
    "currency",
    "tax",
    "region",
    "cluster",
    "node",
    "pod",
    "ingress",
    "gateway",
    "token",
    "session",
    "cookie",
    "header",
    "payload",
    "schema",
    "column",
    "migration",
    "rollback",
    "canary",
    "metric",
    "alert",
    "budget",
    "forecast",
    "headcount",
    "roadmap",
    "milestone",
    "deadline",
    "sprint",
    "retro",
    "estimate",
    "risk",
    "customer",
    "churn",
    "cohort",
    "funnel",
    "signup",
    "trial",
    "discount",
    "renewal",
    "contract",
    "vendor",
    "audit",
    "flight",
    "hotel",
    "visa",
    "passport",
    "dinner",
    "gym",
    "groceries",
    "rent",
    "insurance",
    "doctor",
    "school",
]


def _sentence(r: random.Random, n: int = 12) -> str:
    words = [r.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def _ticket(r: random.Random) -> str:
    return f"{r.choice(['ENG', 'OPS', 'FIN', 'WEB'])}-{r.randint(100, 9999)}"


@dataclass
class Item:
    type: str
    fields: dict[str, Any]
    at: datetime
    app: str | None
    ref: str


def item(i: int, seed: int, end: datetime) -> Item:
    """The i-th memory of the synthetic month ending at ``end`` (deterministic in seed, i)."""
    r = random.Random(seed * 1_000_003 + i)
    at = end - timedelta(seconds=r.uniform(0, SPAN_DAYS * 86400))
    # working hours mostly
    at = at.replace(hour=r.choice([8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 21]))
    roll = r.random()
    person, project, topic = r.choice(PEOPLE), r.choice(PROJECTS), r.choice(TOPICS)
    ref = f"bench:{seed}:{i}"
    if roll < 0.55:  # screen activity (offline agent shape)
        app = r.choice(list(APPS))
        kind, name = APPS[app], PRETTY[app]
        if kind == "editor":
            f = r.choice(FILES)
            summary = f"Edited {f} in {name}"
            lines = [f"# {project}: {topic}", f"def handle_{r.choice(WORDS)}(req):"]
        elif kind == "browser":
            site = r.choice(SITES)
            summary = f"Read '{topic.title()} - {site}' in {name}"
            lines = [f"{site}/{r.choice(WORDS)}/{r.randint(1, 9999)}", topic.capitalize()]
        elif kind == "mail":
            summary = f"Read mail 'Re: {project} {topic}' in {name}"
            lines = [f"From: {person}", f"Subject: Re: {project}"]
        elif kind == "chat":
            summary = f"Chatted in {name}: #{project.replace(' ', '-')}"
            lines = [f"{person}: {r.choice(VERBS)} the {topic} for {_ticket(r)}"]
        elif kind == "terminal":
            summary = f"Ran commands in {name}: {r.choice(FILES)}"
            lines = [
                f"$ make test PROJECT={project.split()[0]}",
                f"FAILED {topic} ({r.randint(1, 99)} errors)",
            ]
        else:
            summary = f"Used {name}: {project}"
            lines = [f"{project} - {topic}"]
        details = "\n".join(
            lines + [_sentence(r, r.randint(6, 16)) for _ in range(r.randint(1, 4))]
        )
        fields = {
            "occurred_at": at.isoformat(),
            "event_type": "app_activity",
            "actor": "user",
            "summary": summary,
            "details": details,
            "tree_path": [name],
        }
        return Item("episodic", fields, at, app, ref)
    if roll < 0.70:  # chat turns, conversations of ~20 turns
        conv = f"conv-{i // 20}"
        speaker = r.choice(PEOPLE[:6]) if r.random() < 0.5 else "Sam"
        text = (
            f"{r.choice(['I think', 'Yesterday I', 'Did you see that', 'We should', 'Honestly'])} "
            f"{r.choice(VERBS)} the {topic} with {person.split()[0]}; "
            f"{_sentence(r, r.randint(5, 14))}"
        )
        fields = {
            "occurred_at": at.isoformat(),
            "event_type": "conversation",
            "actor": speaker,
            "summary": text,
            "tree_path": ["conversations", conv],
        }
        return Item("episodic", fields, at, None, ref)
    if roll < 0.85:
        fields = {
            "name": f"{project} {r.choice(['owner', 'deadline', 'stack', 'status', 'decision'])}",
            "summary": f"{person} {r.choice(VERBS)} the {topic} for the {project} ({_ticket(r)}).",
            "details": _sentence(r, r.randint(8, 20)),
            "source": r.choice(["screen", "chat", "mail"]),
            "tree_path": ["work", project],
        }
        return Item("semantic", fields, at, None, ref)
    if roll < 0.96:
        site = r.choice(SITES)
        paras = [
            " ".join(_sentence(r, r.randint(10, 22)) for _ in range(3))
            for _ in range(r.randint(2, 5))
        ]
        fields = {
            "title": f"{topic.title()}: notes on {project}",
            "resource_type": r.choice(["web_page", "document", "pdf", "code"]),
            "summary": f"page seen in Firefox at https://{site}/{r.choice(WORDS)}",
            "content": "\n\n".join(paras),
        }
        return Item("resource", fields, at, "firefox", ref)
    if roll < 0.99:
        fields = {
            "entry_type": "workflow",
            "summary": f"How to {r.choice(['deploy', 'release', 'debug', 'rotate keys for'])} {project}",
            "steps": [_sentence(r, 8) for _ in range(r.randint(3, 7))],
        }
        return Item("procedural", fields, at, None, ref)
    fields = {
        "entry_type": r.choice(["contact", "bookmark", "credential"]),
        "source": "screen",
        "sensitivity": r.choice(["low", "medium", "high"]),
        "caption": f"{person} ({project})",
        "secret_value": f"{person.split()[0].lower()}@example.com",
    }
    return Item("knowledge_vault", fields, at, None, ref)


def items(n: int, seed: int = 7, end: datetime | None = None) -> list[Item]:
    end = end or datetime.now(UTC)
    return [item(i, seed, end) for i in range(n)]


def text_of(it: Item) -> str:
    """The text the store indexes and embeds for this item (same code path as the store)."""
    return render_text(it.type, validate_fields(it.type, dict(it.fields)).model_dump(mode="json"))


def new_memory(it: Item) -> NewMemory:
    return NewMemory(
        type=it.type,
        fields=it.fields,
        sources=[{"kind": "chat" if it.app is None else "capture", "ref": it.ref}],
        trust="screen" if it.app else "chat",
        app=it.app,
        at=it.at,
    )


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode()).digest()


class VectorCache:
    """Embeddings by text hash, in ``bench/results/vectors-<model>.npz``."""

    def __init__(self, model: str, path: Path | None = None) -> None:
        self.path = path or RESULTS / f"vectors-{model}.npz"
        self.rows: dict[bytes, np.ndarray] = {}
        if self.path.exists():
            data = np.load(self.path)
            keys, vecs = data["keys"], data["vectors"]
            self.rows = {bytes(k): v for k, v in zip(keys, vecs, strict=True)}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self.rows), dtype="S20")
        vecs = np.stack(list(self.rows.values())).astype(np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vecs)
        tmp.replace(self.path)

    def fill(self, texts: Sequence[str], embedder: Any, chunk: int = 2000) -> int:
        """Embed the texts not cached yet (saving as it goes); returns how many."""
        todo = list(dict.fromkeys(t for t in texts if _key(t) not in self.rows))
        t0 = time.perf_counter()
        for i in range(0, len(todo), chunk):
            part = todo[i : i + chunk]
            for t, v in zip(part, embedder.embed(part), strict=True):
                self.rows[_key(t)] = v
            self.save()
            done = i + len(part)
            rate = done / (time.perf_counter() - t0)
            print(f"  embedded {done}/{len(todo)} ({rate:.0f}/s)", file=sys.stderr, flush=True)
        return len(todo)


class CachedEmbedder:
    """The local embedder's vectors from the cache; misses go to the real model."""

    def __init__(self, real: Any, cache: VectorCache, recycle: bool = False) -> None:
        self.real = real
        self.cache = cache
        self.name = real.name
        self.dim = real.dim
        self.misses = 0
        self.recycled = 0
        self._pool = np.stack(list(cache.rows.values())) if recycle and cache.rows else None

    def _recycle(self, text: str) -> np.ndarray:
        """A real cached vector, jittered, chosen by the text's hash (see ``--vectors``)."""
        h = int.from_bytes(_key(text)[:8], "big")
        assert self._pool is not None
        v = self._pool[h % len(self._pool)] + np.random.default_rng(h).normal(
            0, 0.02, self.dim
        ).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        miss = []
        for i, t in enumerate(texts):
            v = self.cache.rows.get(_key(t))
            if v is None:
                miss.append(i)
            else:
                out[i] = v
        if miss and self._pool is not None:
            self.recycled += len(miss)
            for i in miss:
                out[i] = self._recycle(texts[i])
        elif miss:
            self.misses += len(miss)
            out[miss] = self.real.embed([texts[i] for i in miss])
        return out


# -- the benchmark --------------------------------------------------------------------------


def queries(seed: int = 11) -> list[str]:
    """Questions a user would type, in the corpus's vocabulary (some match nothing well)."""
    r = random.Random(seed)
    out = []
    for i in range(40):
        person, project, topic = r.choice(PEOPLE), r.choice(PROJECTS), r.choice(TOPICS)
        out.append(
            [
                f"what did {person.split()[0]} say about the {topic}",
                f"{topic} in the {project}",
                f"when did I edit {r.choice(FILES)}",
                f"notes on {project} from {r.choice(SITES)}",
                f"who owns the {project}",
                f"{_ticket(r)}",
                f"how do I deploy {project}",
                f"{r.choice(WORDS)} {r.choice(WORDS)} problem",
            ][i % 8]
        )
    return out


def pct(xs: Sequence[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _env(home: Path) -> None:
    """A private HOME with a file keyring (no scrypt on open: reopen times are the store's)."""
    (home / "home").mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = str(home / "home")
    os.environ["PYTHON_KEYRING_BACKEND"] = "tests.fakes.keyrings.FileKeyring"
    os.environ.pop("ENGRAM_PASSPHRASE", None)
    for k in [k for k in os.environ if k.startswith("ENGRAM_")]:
        del os.environ[k]


def timed(fn: Any, *a: Any, **kw: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0


def search_latencies(svc: Any, qs: list[str], end: datetime, reps: int) -> dict[str, Any]:
    week = (end - timedelta(days=7), end)
    variants = {
        "none": {},
        "type=episodic": {"types": ["episodic"]},
        "last 7 days": {"since": week[0], "until": week[1]},
        "type+7 days": {"types": ["semantic", "resource"], "since": week[0], "until": week[1]},
    }
    out: dict[str, Any] = {}
    for name, kw in variants.items():
        lat: list[float] = []
        cpu: list[float] = []
        hits = 0
        for _ in range(reps):
            for q in qs:
                c0 = time.process_time()
                got, s = timed(svc.search, q, k=10, **kw)
                cpu.append((time.process_time() - c0) * 1000)
                lat.append(s * 1000)
                hits += len(got)
        out[name] = {
            "p50_ms": round(pct(lat, 50), 1),
            "p95_ms": round(pct(lat, 95), 1),
            "max_ms": round(max(lat), 1),
            "cpu_p50_ms": round(pct(cpu, 50), 1),
            "cpu_p95_ms": round(pct(cpu, 95), 1),
            "queries": len(lat),
            "mean_hits": round(hits / len(lat), 1),
        }
        print(
            f"    search [{name}] p50 {out[name]['p50_ms']} ms p95 {out[name]['p95_ms']} ms",
            file=sys.stderr,
            flush=True,
        )
    return out


def run_size(n: int, corpus: list[Item], cache: VectorCache, work: Path, args: Any) -> dict:
    from engram.core.config import Paths
    from engram.core.memory.embed import LocalEmbedder

    base = work / f"n{n}"
    reuse = args.reuse and (base / "engram" / "ledger.db").exists()
    if not reuse:
        shutil.rmtree(base, ignore_errors=True)
    _env(base)
    paths = Paths(home=base / "engram")
    real = LocalEmbedder()
    res: dict[str, Any] = {"n": n, "loadavg_start": os.getloadavg()[0], "reused": reuse}
    print(f"== {n} memories", file=sys.stderr, flush=True)
    if not reuse:
        res.update(insert(n, corpus, cache, paths, real, args))
    return measure(n, paths, real, res, args, base)


def insert(
    n: int, corpus: list[Item], cache: VectorCache, paths: Any, real: Any, args: Any
) -> dict:
    """Fill the store; vectors from the cache, so this is the store's own cost."""
    from engram.core.service import EngramService

    cached = CachedEmbedder(real, cache, recycle=args.vectors == "recycled")
    svc = EngramService(paths, embedder=cached)
    res: dict[str, Any] = {}
    batch, t_ins = 500, 0.0
    for i in range(0, n, batch):
        _, s = timed(svc.add_memories, [new_memory(it) for it in corpus[i : i + batch]])
        t_ins += s
    res["insert_per_s"] = round(n / t_ins)
    res["insert_s"] = round(t_ins, 1)
    res["counts"] = svc.store.counts()
    res["recycled_vectors"] = cached.recycled
    # end-to-end insert with the real embedder on 100 more items
    extra = [new_memory(it) for it in items(n + 100)[n:]] if n <= 10_000 else None
    if extra is not None:
        svc.embedder = svc.store.embedder = real
        added, s = timed(svc.add_memories, extra)
        res["insert_embed_per_s"] = round(len(extra) / s)
        svc.store.delete_lineages([m.lineage for m in added])  # back to exactly n
    svc.close()
    res["ledger_mb"] = round(paths.ledger.stat().st_size / 1e6, 1)
    res["vectors_mb"] = round(dir_bytes(paths.vectors) / 1e6, 1)
    return res


def measure(n: int, paths: Any, real: Any, res: dict, args: Any, base: Path) -> dict:
    """Reopen, reconcile, search and rebuild on a filled store."""
    from engram.core.service import EngramService

    # reopen: construction incl. the no-op reconcile and inbox recovery
    svc, res["reopen_s"] = timed(EngramService, paths, embedder=real)
    noop = [timed(svc.store.reconcile)[1] for _ in range(3)]
    res["reconcile_noop_s"] = round(statistics.median(noop), 3)
    res["reopen_s"] = round(res["reopen_s"], 3)

    # search: the first query loads the ONNX session; then reps x 40 queries per variant
    end = datetime.now(UTC)
    _, cold = timed(svc.search, "warm up the model", k=10)
    res["first_search_ms"] = round(cold * 1000, 1)
    qs = queries()
    if args.profile and n == max(args.sizes):
        from pyinstrument import Profiler

        prof = Profiler(interval=0.0005)
        prof.start()
        for q in qs:
            svc.search(q, k=10)
        prof.stop()
        out = RESULTS / f"profile-search-{n}.txt"
        out.write_text(prof.output_text(unicode=True, color=False, show_all=False))
        print(f"    profile written to {out}", file=sys.stderr)
    res["loadavg_search"] = os.getloadavg()[0]
    res["search"] = search_latencies(svc, qs, end, args.reps)
    svc.close()

    # reconcile after the Chroma dir is deleted: every vector re-added from the ledger
    shutil.rmtree(paths.vectors)
    svc, s = timed(EngramService, paths, embedder=real)
    res["rebuild_s"] = round(s, 1)
    res["rebuild_added"] = svc.reconciled.get("added", 0)
    svc.close()
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    print(f"   {json.dumps({k: v for k, v in res.items() if k != 'search'})}", file=sys.stderr)
    return res


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def table(results: list[dict]) -> str:
    rows = [
        "| memories | search p50 / p95 (no filter) | type filter | last 7 days | type + 7 days "
        "| search CPU p50 | insert/s (stored vectors) | reopen | no-op reconcile | rebuild index |",
        "|---:|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r["search"]

        def cell(v: str, s: dict = s) -> str:
            return f"{s[v]['p50_ms']:.0f} / {s[v]['p95_ms']:.0f} ms"

        rows.append(
            f"| {r['n']:,} | {cell('none')} | {cell('type=episodic')} | {cell('last 7 days')} "
            f"| {cell('type+7 days')} | {s['none'].get('cpu_p50_ms', 0):.0f} ms "
            f"| {r.get('insert_per_s', '-')} | {r['reopen_s']:.2f} s "
            f"| {r['reconcile_noop_s']:.2f} s | {r['rebuild_s']:.1f} s |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated memory counts")
    ap.add_argument("--reps", type=int, default=3, help="passes over the 40 queries per variant")
    ap.add_argument("--quick", action="store_true", help="1k and 10k, one pass")
    ap.add_argument("--profile", action="store_true", help="pyinstrument the largest size")
    ap.add_argument("--keep", action="store_true", help="keep the stores under bench/results/")
    ap.add_argument(
        "--vectors",
        choices=["full", "recycled"],
        default="full",
        help="full: embed every text (cached); recycled: texts not in the cache get a cached "
        "real vector with small jitter (for a quick or large run; latency, not quality)",
    )
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse kept stores")
    ap.add_argument("--work", type=Path, default=None, help="where the stores go (a temp dir)")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.reps, args.vectors = "1000,10000", 1, "recycled"
    args.sizes = [int(x) for x in args.sizes.split(",")]
    from engram.core.memory.embed import LocalEmbedder

    corpus = items(max(args.sizes))
    cache = VectorCache(LocalEmbedder.name)
    if args.vectors == "full":
        n_new = cache.fill([text_of(it) for it in corpus], LocalEmbedder())
        if n_new:
            print(f"embedded and cached {n_new} texts", file=sys.stderr)
    elif not cache.rows:
        cache.fill([text_of(it) for it in corpus[:1000]], LocalEmbedder())
    work = args.work or (RESULTS / "stores" if args.keep else Path(tempfile.mkdtemp()))
    results = [run_size(n, corpus[:n], cache, work, args) for n in args.sizes]
    out = {"machine": machine(), "when": datetime.now(UTC).isoformat(), "results": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(out, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
