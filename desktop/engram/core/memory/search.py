"""Hybrid retrieval: FTS5 BM25 and vector neighbours, fused by reciprocal rank.

Both rankers see the same filters (type, time range; only current versions). Fusion by
rank (RRF, k=60) needs no score calibration between BM25 and cosine, which is why it is
the default in hybrid search systems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engram.core.memory.models import MEMORY_TYPES, Memory, render_text
from engram.core.memory.store import MemoryStore, ts

RRF_K = 60
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)
_TOKEN = re.compile(r"\w+(?:[.:/@-]\w+)*", re.UNICODE)


@dataclass
class Hit:
    memory: Memory
    score: float
    ranks: dict[str, int]

    def public(self) -> dict[str, Any]:
        m = self.memory
        return {
            "id": m.id,
            "type": m.type,
            "score": round(self.score, 6),
            "text": render_text(m.type, m.fields),
            "occurred_at": m.occurred_at.isoformat(),
            "sources": [s.model_dump() for s in m.sources],
        }


def query_terms(query: str) -> list[str]:
    """Search terms of a query: word tokens minus stopwords, keeping codes intact."""
    seen: dict[str, None] = {}
    for tok in _TOKEN.findall(query.lower()):
        if tok not in STOPWORDS:
            seen[tok] = None
    return list(seen)


def fts_expression(terms: list[str]) -> str | None:
    parts = []
    for t in terms:
        # a code like 10.0.0.12 or AB-1234 becomes a phrase of its pieces
        pieces = [p for p in re.split(r"\W+", t) if p]
        if pieces:
            parts.append('"' + " ".join(pieces).replace('"', "") + '"')
    return " OR ".join(parts) if parts else None


def fts_ranked(
    store: MemoryStore,
    expr: str,
    types: list[str],
    since: datetime | None,
    until: datetime | None,
    n: int,
) -> list[str]:
    where, params = store._filters(types, since, until)
    rows = store.ledger.query(
        "SELECT m.id FROM memory_fts f JOIN memories m ON m.seq = f.rowid "
        f"WHERE memory_fts MATCH ? AND {where} ORDER BY bm25(memory_fts) LIMIT ?",
        [expr, *params, n],
    )
    return [r[0] for r in rows]


def vector_ranked(
    store: MemoryStore,
    query: str,
    types: list[str],
    since: datetime | None,
    until: datetime | None,
    n: int,
) -> list[str]:
    vec = store.embedder.embed([query])[0]
    return [i for i, _d in store.vectors.query(vec, types, n, ts(since), ts(until))]


def rrf(rankings: dict[str, list[str]], k: int = RRF_K) -> list[tuple[str, float, dict]]:
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, ids in rankings.items():
        for r, mid in enumerate(ids):
            scores[mid] = scores.get(mid, 0.0) + 1.0 / (k + r + 1)
            ranks.setdefault(mid, {})[name] = r + 1
    order = sorted(scores, key=lambda i: -scores[i])
    return [(i, scores[i], ranks[i]) for i in order]


def hybrid_search(
    store: MemoryStore,
    query: str,
    *,
    k: int = 10,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    candidates: int = 50,
) -> list[Hit]:
    types = list(types or MEMORY_TYPES)
    n = max(candidates, k)
    rankings: dict[str, list[str]] = {}
    expr = fts_expression(query_terms(query))
    if expr:
        rankings["bm25"] = fts_ranked(store, expr, types, since, until, n)
    if query.strip():
        rankings["vector"] = vector_ranked(store, query, types, since, until, n)
    fused = rrf(rankings)
    mems = store.get_many([f[0] for f in fused[: k * 2]])
    hits = []
    for mid, score, ranks in fused:
        m = mems.get(mid)
        if m is None or not m.current:  # index lag: reconcile will catch up
            continue
        hits.append(Hit(m, score, ranks))
        if len(hits) == k:
            break
    return hits
