"""Hybrid retrieval v2: BM25 + vector + recency fused by rank, then neighbouring context.

Why each part is there:

- FTS5 BM25 finds the words, the vector index finds the meaning; fusing by rank (weighted
  RRF) needs no calibration between their scores. Recency is a third, weak ranker: of two
  equally good matches the newer one is more often the one meant.
- Exact tokens (codes, IPs, amounts) must match literally: memories holding every such token
  of the query come first, and a memory holding a same-shaped but different code
  ("LH2043" for "LH2042") is dropped, never offered as a fuzzy match.
- Neighbouring context: a memory in a thread (the same ``tree_path``, e.g. one conversation)
  is read with the memories just before and after it. A turn whose neighbours match the
  query is lifted (questions and their answers sit next to each other), and a top hit
  brings its next neighbour along when that one did not match on its own words.
- Speaker names: a name in the query that is the actor of memories ("what did Lena say")
  is a filter-like preference, not a word to match: it is taken out of the BM25 terms (it
  mostly matches the *other* speaker addressing Lena) and memories by that actor get a lift.
- Time: ``parse_time=True`` turns a time phrase ("yesterday afternoon") into a range via
  ``timeparse``; "before/after <event>" is anchored on the best match for the event. A
  range taken from the query is a filter, but when nothing falls inside it the search runs
  again without it (the phrase may have been content, e.g. "moved here 4 years ago").
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from engram.core.memory import rank
from engram.core.memory.models import MEMORY_TYPES, Memory, render_text
from engram.core.memory.rangescan import range_scan
from engram.core.memory.store import MemoryStore, ts

RRF_K = rank.RRF_K
# Ranker weights for the fusion, chosen once on the LoCoMo dev split (see bench/locomo.py).
WEIGHTS = {"bm25": 1.0, "vector": 1.0, "recency": 0.1, "exact": 3.0}
NAME_BOOST = 0.3  # relative lift for memories whose actor the query names
STRIP_NAMES = True  # take actor names out of the BM25 terms
CONTEXT_WEIGHT = 0.35  # share of the best neighbour's score a memory borrows
CONTEXT_SPAN = 2  # neighbours on each side that count for ranking
CONTEXT_TOP = 40  # candidates whose neighbours are looked up
MAX_EXACT = 4  # more codes than this, or a longer query, is a passage: no exact tier
MAX_EXACT_WORDS = 40
EXACT_SCAN_MAX = 500  # memories in a range up to which the ledger is scanned (else rangescan)
COMMON_SHARE = 0.2  # a BM25 term in more than this share of memories ...
COMMON_MIN_DOCS = 10_000  # ... and in more memories than this is dropped (see drop_common)
BROAD_POSTINGS = 8_000  # OR queries matching more rows than this are split (lexical_ranked)
RARE_DOCS = 2_000  # ... into all terms AND-ed plus the terms in at most this many memories
CONTEXT_GAP = 6 * 3600.0  # seconds: a neighbour further away in time is another thread
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
_ANCHOR = re.compile(
    r"\b(?P<rel>before|after|since|until|prior to)\s+(?P<event>(?:the|my|our|that|his|her)\s+"
    r"[^?.!,;]{3,60})",
    re.IGNORECASE,
)


@dataclass
class Hit:
    """A ranked memory; ``context`` holds its neighbours (before, after) in its thread."""

    memory: Memory
    score: float
    ranks: dict[str, int]
    context: list[Memory] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)

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


@dataclass(frozen=True)
class Plan:
    """What a query became: search text, time range, exact tokens, and where they came from."""

    text: str
    since: datetime | None
    until: datetime | None
    exact: tuple[str, ...]
    time_phrase: str | None = None
    soft_range: bool = False  # the range came from the query: drop it if nothing is inside


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
    """Ids of current memories matching ``expr``, best BM25 first."""
    return [mid for mid, _rank in _fts_rows(store, expr, store._filters(types, since, until), n)]


def _fts_rows(
    store: MemoryStore, expr: str, filters: tuple[str, list], n: int
) -> list[tuple[str, float]]:
    """(id, FTS5 rank) of the best ``n`` current matches; a lower rank is better.

    FTS5 ranks inside its own table (``ORDER BY rank``) and hands rows over best first, so
    the join to ``memories`` (and the filters) stops after ``n`` survivors. Joining every
    match and then sorting by ``bm25()`` cost about 5x the CPU at 100k memories.
    """
    where, params = filters
    rows = store.ledger.query(
        "SELECT m.id, f.rank FROM (SELECT rowid, rank FROM memory_fts WHERE memory_fts MATCH ? "
        f"ORDER BY rank) f JOIN memories m ON m.seq = f.rowid WHERE {where} "
        "ORDER BY f.rank LIMIT ?",
        [expr, *params, n],
    )
    return [(r[0], float(r[1])) for r in rows]


def lexical_ranked(
    store: MemoryStore,
    terms: list[str],
    types: list[str],
    since: datetime | None,
    until: datetime | None,
    n: int,
) -> list[str]:
    """BM25 ranking of memories holding any of ``terms``, at a bounded cost.

    FTS5 scores every row an OR query matches before it can sort them. When the terms
    together match more than ``BROAD_POSTINGS`` rows, the query is split: every term
    AND-ed (exact BM25 scores, few rows) plus the rare terms (in at most ``RARE_DOCS``
    memories) OR-ed, merged by score. What is left out holds only some of the broad
    terms: the memories BM25 would rank lowest. Stores up to ``BROAD_POSTINGS`` memories
    (LoCoMo, most users' first months) always get the plain OR query.
    """
    expr = fts_expression(terms)
    if expr is None:
        return []
    if len(terms) < 2 or _current_count(store) <= BROAD_POSTINGS:
        return fts_ranked(store, expr, types, since, until, n)
    parts = {t: e for t in terms if (e := fts_expression([t]))}
    df = {t: _doc_freq(store, e) for t, e in parts.items()}
    if sum(df.values()) <= BROAD_POSTINGS:
        return fts_ranked(store, expr, types, since, until, n)
    best: dict[str, float] = {}
    rare = [t for t in parts if df[t] <= RARE_DOCS]
    queries = [" AND ".join(parts.values())]
    if rare:
        queries.append(" OR ".join(parts[t] for t in rare))
    filters = store._filters(types, since, until)
    for q in queries:
        for mid, score in _fts_rows(store, q, filters, n):
            best[mid] = min(score, best.get(mid, score))
    return sorted(best, key=best.__getitem__)[:n]


def vector_scored(
    store: MemoryStore,
    query: str,
    types: list[str],
    since: datetime | None,
    until: datetime | None,
    n: int,
) -> list[tuple[str, float]]:
    """(id, cosine similarity), best first.

    With a time range that holds few memories, the ledger's own embeddings are scanned
    exactly; a larger range is scanned exactly in memory (``rangescan``: int8 copies of the
    vectors). Chroma's metadata-filtered query is the fallback when some stored vectors
    are missing: it costs about a second at 100k memories.
    """
    vec = store.embedder.embed([query])[0]
    if since is not None or until is not None:
        where, params = store._filters(types, since, until)
        inside = store.ledger.scalar(f"SELECT count(*) FROM memories m WHERE {where}", params)
        if int(inside or 0) <= EXACT_SCAN_MAX:
            rows = store.ledger.query(
                "SELECT m.id, e.vector FROM memories m JOIN embeddings e ON e.memory_id = m.id "
                f"WHERE {where} AND e.model = ?",
                [*params, store.embedder.name],
            )
            if len(rows) == inside:  # else some vectors are missing: ask the index
                if not rows:
                    return []
                mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
                sims = mat.reshape(len(rows), -1) @ vec
                best = np.argsort(-sims)[:n]
                return [(rows[i][0], float(sims[i])) for i in best]
        else:
            found, matched = range_scan(store).search(vec, types, since, until, n)
            if matched == inside:  # every memory in the range has its vector
                return found
    found = store.vectors.query(vec, types, n, ts(since), ts(until))
    return [(i, rank.cosine_from_distance(d)) for i, d in found]


def vector_ranked(
    store: MemoryStore,
    query: str,
    types: list[str],
    since: datetime | None,
    until: datetime | None,
    n: int,
) -> list[str]:
    return [i for i, _s in vector_scored(store, query, types, since, until, n)]


def rrf(rankings: dict[str, list[str]], k: int = RRF_K) -> list[tuple[str, float, dict]]:
    scores, ranks = rank.weighted_rrf(rankings, {}, k)
    order = sorted(scores, key=lambda i: -scores[i])
    return [(i, scores[i], ranks[i]) for i in order]


# -- per-store facts (actors, corpus size, term counts), dropped on any write ---------------
_store_cache: weakref.WeakKeyDictionary[MemoryStore, dict[str, Any]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _cache(store: MemoryStore) -> dict[str, Any]:
    with _cache_lock:
        got = _store_cache.get(store)
        if got is None:
            if not getattr(store, "_search_cache_hook", False):
                ref = weakref.ref(store)

                def forget(_ids: list[str]) -> None:
                    s = ref()
                    if s is not None:
                        with _cache_lock:
                            _store_cache.pop(s, None)

                store.events.memory_did_change.append(forget)
                store._search_cache_hook = True  # type: ignore[attr-defined]
            got = _store_cache[store] = {"df": {}}
        return got


def known_actors(store: MemoryStore) -> set[str]:
    """Actors of current episodic memories (speakers of imported chats, "user", ...)."""
    cache = _cache(store)
    got = cache.get("actors")
    if got is not None:
        return got
    rows = store.ledger.query(
        "SELECT DISTINCT json_extract(fields, '$.actor') FROM memories "
        "WHERE type = 'episodic' AND superseded_by IS NULL"
    )
    actors = {r[0] for r in rows if isinstance(r[0], str) and r[0].strip()}
    cache["actors"] = actors
    return actors


def _current_count(store: MemoryStore) -> int:
    cache = _cache(store)
    got = cache.get("count")
    if got is None:
        got = cache["count"] = int(
            store.ledger.scalar("SELECT count(*) FROM memories WHERE superseded_by IS NULL") or 0
        )
    return got


def _common_limit(store: MemoryStore) -> int:
    return max(COMMON_MIN_DOCS, int(COMMON_SHARE * _current_count(store)))


def _doc_freq(store: MemoryStore, expr: str) -> int:
    """Memories matching ``expr``, counted only up to ``_common_limit + 1`` (cached).

    Counting stops there, so a very common term costs no more than a rare one.
    """
    df: dict[str, int] = _cache(store)["df"]
    got = df.get(expr)
    if got is None:
        cap = _common_limit(store) + 1
        got = df[expr] = int(
            store.ledger.scalar(
                "SELECT count(*) FROM (SELECT 1 FROM memory_fts WHERE memory_fts MATCH ? LIMIT ?)",
                [expr, cap],
            )
            or 0
        )
    return got


def drop_common(store: MemoryStore, terms: list[str]) -> list[str]:
    """``terms`` without the ones nearly every memory holds, when rarer terms remain.

    BM25 gives such a term almost no weight, yet an OR query over it scores every memory
    that holds it (40k at 100k memories: most of a search's CPU). Only terms in more than
    ``COMMON_SHARE`` of the corpus *and* more than ``COMMON_MIN_DOCS`` memories go, so a
    small store (and LoCoMo) is searched exactly as before.
    """
    if len(terms) < 2:
        return terms
    total = _current_count(store)
    limit = _common_limit(store)
    if total <= limit:
        return terms
    counted = {t: _doc_freq(store, e) for t in terms if (e := fts_expression([t]))}
    kept = [t for t, c in counted.items() if c <= limit]
    return kept if any(counted[t] for t in kept) else terms


# -- planning ---------------------------------------------------------------------------
def plan_query(
    store: MemoryStore,
    query: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    parse_time: bool = False,
    now: datetime | None = None,
    types: list[str] | None = None,
) -> Plan:
    """Turn a query into search text + range; time phrases only when ``parse_time``."""
    exact = tuple(rank.exact_tokens(query))
    if len(exact) > MAX_EXACT or len(query.split()) > MAX_EXACT_WORDS:
        exact = ()  # a passage (e.g. a duplicate check), not a lookup: no literal tier
    if not parse_time or since is not None or until is not None:
        return Plan(query, since, until, exact)
    from engram.core.memory.timeparse import parse_time_query

    parsed = parse_time_query(query, now=now)
    if parsed.range is not None:
        r = parsed.range
        text = parsed.text if query_terms(parsed.text) else query
        # a date inside the time phrase is not a code to match exactly
        exact = tuple(t for t in exact if t not in r.phrase)
        return Plan(text, r.start, r.end, exact, r.phrase, soft_range=True)
    m = _ANCHOR.search(query)
    if m:
        anchor = _resolve_anchor(store, m["event"], types)
        if anchor is not None:
            rest = (query[: m.start()] + query[m.end() :]).strip()
            text = rest if query_terms(rest) else query
            rel = m["rel"].lower()
            lo, hi = (None, anchor) if rel in ("before", "prior to", "until") else (anchor, None)
            return Plan(text, lo, hi, exact, m.group(0), soft_range=True)
    return Plan(query, None, None, exact)


def _resolve_anchor(store: MemoryStore, event: str, types: list[str] | None) -> datetime | None:
    """When the event is clearly one memory (top of both rankers), its time."""
    ts_ = list(types or MEMORY_TYPES)
    expr = fts_expression(query_terms(event))
    if not expr:
        return None
    lexical = fts_ranked(store, expr, ts_, None, None, 3)
    dense = vector_ranked(store, event, ts_, None, None, 3)
    if lexical and lexical[0] in dense:
        m = store.get(lexical[0])
        return m.occurred_at if m is not None else None
    return None


# -- the search -------------------------------------------------------------------------
def hybrid_search(
    store: MemoryStore,
    query: str,
    *,
    k: int = 10,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    candidates: int = 100,
    parse_time: bool = False,
    now: datetime | None = None,
    rewrites: Sequence[str] = (),
    context: bool = True,
    weights: dict[str, float] | None = None,
) -> list[Hit]:
    """The best ``k`` current memories for ``query`` (see the module docstring).

    ``rewrites`` are extra phrasings of the query (e.g. from an LLM); each adds its own
    BM25 and vector rankings to the fusion.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    types = list(types or MEMORY_TYPES)
    plan = plan_query(
        store, query, since=since, until=until, parse_time=parse_time, now=now, types=types
    )
    hits = _search(store, plan, k, types, candidates, rewrites, context, weights or WEIGHTS)
    if not hits and plan.soft_range:
        plain = Plan(query, None, None, plan_query(store, query).exact)
        hits = _search(store, plain, k, types, candidates, rewrites, context, weights or WEIGHTS)
        for h in hits:
            h.signals["outside_time_range"] = 1.0
    return hits


@dataclass
class _Cand:
    id: str
    at: float
    type: str
    text: str
    thread: str | None
    actor: str | None


def _candidates(store: MemoryStore, ids: Sequence[str]) -> dict[str, _Cand]:
    out: dict[str, _Cand] = {}
    rows = store.ledger.query_in(
        "SELECT id, at, type, text, json_extract(fields, '$.tree_path'), "
        "json_extract(fields, '$.actor') FROM memories WHERE superseded_by IS NULL AND id IN ({})",
        ids,
    )
    for mid, at, mtype, text, tree, actor in rows:
        thread = tree if mtype == "episodic" and tree and tree != "[]" else None
        out[mid] = _Cand(mid, at, mtype, text, thread, actor if mtype == "episodic" else None)
    return out


def _exact_ranked(
    store: MemoryStore, plan: Plan, types: list[str], n: int
) -> tuple[list[str], dict[str, int]]:
    """Memories holding the query's exact tokens, most tokens first; and their counts."""
    found: dict[str, int] = {}
    order: list[str] = []
    for tok in plan.exact:
        pieces = [p for p in re.split(r"\W+", rank.core_of(tok)) if p]
        if not pieces:
            continue
        expr = '"' + " ".join(pieces) + '"'
        for mid in fts_ranked(store, expr, types, plan.since, plan.until, n):
            if mid not in found:
                order.append(mid)
            found[mid] = found.get(mid, 0)
    if not found:
        return [], {}
    cands = _candidates(store, order)
    counts = {
        mid: sum(rank.contains_exact(c.text, t) for t in plan.exact) for mid, c in cands.items()
    }
    kept = [m for m in order if counts.get(m, 0) > 0]
    kept.sort(key=lambda m: -counts[m])  # stable: BM25 order within equal counts
    return kept, {m: counts[m] for m in kept}


def _search(
    store: MemoryStore,
    plan: Plan,
    k: int,
    types: list[str],
    candidates: int,
    rewrites: Sequence[str],
    context: bool,
    weights: dict[str, float],
) -> list[Hit]:
    n = max(candidates, k * 2)
    names = rank.name_mentions(plan.text, known_actors(store)) if "episodic" in types else []
    rankings: dict[str, list[str]] = {}
    cosine: dict[str, float] = {}
    texts = [plan.text, *[r for r in rewrites if r and r.strip() and r != plan.text]]
    for i, text in enumerate(texts):
        suffix = "" if i == 0 else f"#{i}"
        lexical = rank.strip_names(text, names) if names and STRIP_NAMES else text
        terms = drop_common(store, query_terms(lexical) or query_terms(text))
        if fts_expression(terms):
            rankings["bm25" + suffix] = lexical_ranked(
                store, terms, types, plan.since, plan.until, n
            )
        if text.strip():
            scored = vector_scored(store, text, types, plan.since, plan.until, n)
            rankings["vector" + suffix] = [m for m, _s in scored]
            for m, s in scored:
                cosine[m] = max(cosine.get(m, -1.0), s)
    exact_counts: dict[str, int] = {}
    if plan.exact:
        rankings["exact"], exact_counts = _exact_ranked(store, plan, types, n)
    pool = list(dict.fromkeys(m for ids in rankings.values() for m in ids))
    cands = _candidates(store, pool)
    if not cands:
        return []
    rankings["recency"] = sorted(cands, key=lambda m: -cands[m].at)
    w = {name: weights.get(name.split("#")[0], 1.0) for name in rankings}
    scores, ranks = rank.weighted_rrf(rankings, w)
    scores = {m: s for m, s in scores.items() if m in cands}
    if names:
        wanted = {n_.lower() for n_ in names}
        for m, c in cands.items():
            if c.actor and c.actor.lower() in wanted:
                scores[m] *= 1.0 + NAME_BOOST
    if plan.exact and exact_counts:
        for m in list(scores):
            if m not in exact_counts and rank.near_misses(cands[m].text, plan.exact):
                del scores[m]
    neighbours: dict[str, tuple[list[str], list[str]]] = {}
    if context:
        scores, neighbours = _with_context(store, cands, scores, plan)
    order = sorted(scores, key=lambda m: (-exact_counts.get(m, 0), -scores[m]))[:k]
    mems = store.get_many(
        order + [x for m in order for side in neighbours.get(m, ([], [])) for x in side[:1]]
    )
    hits: list[Hit] = []
    for mid in order:
        m = mems.get(mid)
        if m is None or not m.current:  # index lag: reconcile will catch up
            continue
        before, after = neighbours.get(mid, ([], []))
        ctx = [mems[x] for x in (before[:1] + after[:1]) if x in mems]
        sig = {"fused": scores[mid]}
        if mid in cosine:
            sig["cosine"] = cosine[mid]
        if exact_counts.get(mid):
            sig["exact"] = float(exact_counts[mid])
        hits.append(Hit(m, scores[mid], ranks.get(mid, {}), ctx, sig))
    return hits


def _with_context(
    store: MemoryStore, cands: dict[str, _Cand], scores: dict[str, float], plan: Plan
) -> tuple[dict[str, float], dict[str, tuple[list[str], list[str]]]]:
    """Lift memories whose thread neighbours also match; bring in the next turn of top hits."""
    top = sorted(scores, key=lambda m: -scores[m])[:CONTEXT_TOP]
    neighbours: dict[str, tuple[list[str], list[str]]] = {}
    for mid in top:
        c = cands[mid]
        if c.thread is None:
            continue
        neighbours[mid] = _thread_neighbours(store, c, plan)
    out = dict(scores)
    for mid, (before, after) in neighbours.items():
        near = before[:CONTEXT_SPAN] + after[:CONTEXT_SPAN]
        best = max((scores.get(x, 0.0) for x in near), default=0.0)
        out[mid] = scores[mid] + CONTEXT_WEIGHT * best
    # the turn right after a strong hit often holds the answer in other words
    for mid in top[:10]:
        after = neighbours.get(mid, ([], []))[1]
        if after and after[0] not in out:
            out[after[0]] = CONTEXT_WEIGHT * scores[mid]
    return out, neighbours


def _thread_neighbours(store: MemoryStore, c: _Cand, plan: Plan) -> tuple[list[str], list[str]]:
    lo = c.at - CONTEXT_GAP
    hi = c.at + CONTEXT_GAP
    if plan.since is not None:
        lo = max(lo, ts(plan.since) or lo)
    if plan.until is not None:
        hi = min(hi, (ts(plan.until) or hi) - 1e-6)
    q = (
        "SELECT id FROM memories WHERE type = 'episodic' AND superseded_by IS NULL "
        "AND at {op} ? AND at {op2} ? AND json_extract(fields, '$.tree_path') = ? "
        "ORDER BY at {order}, seq {order} LIMIT ?"
    )
    before = store.ledger.query(
        q.format(op="<", op2=">=", order="DESC"), (c.at, lo, c.thread, CONTEXT_SPAN)
    )
    after = store.ledger.query(
        q.format(op=">", op2="<=", order="ASC"), (c.at, hi, c.thread, CONTEXT_SPAN)
    )
    return [r[0] for r in before], [r[0] for r in after]
