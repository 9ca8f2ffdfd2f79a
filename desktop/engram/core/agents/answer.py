"""Offline answers: the sentence or line of the retrieved memories that best answers.

With no LLM nothing can be generated, so the answer is extractive and says so: the best
line, who said or saw it and when, and the memory id it came from. When the evidence is
weak the answer is an honest "I don't have a memory of that" instead of the least bad match.

Abstention is decided on the top hits' evidence (see ``answerable``): an exact code match,
or enough of the question's content words in one memory, or a high cosine similarity. The
thresholds were calibrated on LoCoMo (``bench/locomo.py`` reports the abstention rate on
answerable questions and on questions about another conversation with the names swapped).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engram.core.memory.models import Memory, render_text
from engram.core.memory.search import STOPWORDS, Hit, query_terms

ABSTAIN = "I don't have a memory of that."
LABEL = "Retrieved from your memories (not generated)"
# Calibrated thresholds (bench/locomo.py --calibrate): answer when any holds.
MIN_COVERAGE = 0.6  # share of the question's content words found in one hit (with context)
MIN_COSINE = 0.55  # cosine similarity of question and hit
MIN_COVERAGE_WITH_COSINE = (0.34, 0.40)  # both at least these
TOP_FOR_EVIDENCE = 5
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_WORD = re.compile(r"\w+(?:[.:/@,-]\w+)*")
_QUESTION_WORDS = frozenset(
    [
        "what",
        "when",
        "where",
        "who",
        "whom",
        "which",
        "why",
        "how",
        "did",
        "does",
        "do",
        "is",
        "are",
        "was",
        "were",
        "tell",
        "remember",
        "recall",
        "say",
        "said",
        "know",
        "anything",
    ]
)


def stem(word: str) -> str:
    """A light stemmer for overlap counting: enough to match plurals and -ing/-ed forms."""
    w = word.lower()
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 2 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def content_terms(question: str, names: Sequence[str] = ()) -> set[str]:
    """The question's content words, stemmed; names and question words left out."""
    low_names = {n.lower() for n in names}
    out = set()
    for t in query_terms(question):
        if t in _QUESTION_WORDS or t in STOPWORDS or t in low_names or len(t) < 2:
            continue
        out.add(stem(t))
    return out


def coverage(terms: set[str], text: str) -> float:
    if not terms:
        return 0.0
    words = {stem(w) for w in _WORD.findall(text.lower())}
    return len(terms & words) / len(terms)


def hit_text(h: Hit, with_context: bool = True) -> str:
    parts = [render_text(h.memory.type, h.memory.fields)]
    if with_context:
        parts += [render_text(c.type, c.fields) for c in h.context]
    return "\n".join(parts)


@dataclass(frozen=True)
class Evidence:
    """How well the best hit supports an answer."""

    coverage: float
    cosine: float
    exact: bool

    @property
    def answerable(self) -> bool:
        cov_min, cos_min = MIN_COVERAGE_WITH_COSINE
        return (
            self.exact
            or self.coverage >= MIN_COVERAGE
            or self.cosine >= MIN_COSINE
            or (self.coverage >= cov_min and self.cosine >= cos_min)
        )


def evidence(question: str, hits: Sequence[Hit], names: Sequence[str] = ()) -> Evidence:
    """The strongest evidence among the top hits (each signal at its best)."""
    terms = content_terms(question, names)
    best_cov = best_cos = 0.0
    exact = False
    for h in hits[:TOP_FOR_EVIDENCE]:
        best_cov = max(best_cov, coverage(terms, hit_text(h)))
        best_cos = max(best_cos, h.signals.get("cosine", 0.0))
        exact = exact or h.signals.get("exact", 0.0) > 0
    return Evidence(best_cov, best_cos, exact)


def answerable(question: str, hits: Sequence[Hit], names: Sequence[str] = ()) -> bool:
    return bool(hits) and evidence(question, hits, names).answerable


@dataclass(frozen=True)
class Extract:
    sentence: str
    memory: Memory
    score: float


def units(text: str) -> list[str]:
    """Lines, and sentences within long lines: the pieces an answer is picked from."""
    out = []
    for line in text.splitlines():
        line = line.strip(" \t-*•")
        if not line:
            continue
        pieces = _SENTENCE.split(line) if len(line) > 160 else [line]
        out.extend(p.strip() for p in pieces if p.strip())
    return out


def best_extract(
    question: str, hits: Sequence[Hit], embedder: Any | None = None, top: int = 5
) -> Extract | None:
    """The line or sentence that best answers: word overlap (idf-weighted over the
    candidates), similarity to the question, and the hit's rank."""
    cands: list[tuple[str, Memory, int]] = []
    for r, h in enumerate(hits[:top]):
        for u in units(render_text(h.memory.type, h.memory.fields)):
            cands.append((u, h.memory, r))
    if not cands:
        return None
    terms = content_terms(question)
    words = [{stem(w) for w in _WORD.findall(c[0].lower())} for c in cands]
    df = {t: sum(t in ws for ws in words) for t in terms}
    n = len(cands)
    idf = {t: math.log(1 + n / (1 + df[t])) for t in terms}
    total = sum(idf.values()) or 1.0
    lexical = [sum(idf[t] for t in terms if t in ws) / total for ws in words]
    sims = [0.0] * n
    if embedder is not None:
        try:
            vecs = embedder.embed([question, *[c[0] for c in cands]])
            sims = [float(v @ vecs[0]) for v in vecs[1:]]
        except Exception:  # no vectors: overlap and rank still decide
            sims = [0.0] * n
    scored = []
    for (u, m, r), lex, sim in zip(cands, lexical, sims, strict=True):
        # very short units ("ok", "yes!") rarely answer anything
        brevity = 0.0 if len(u) >= 12 else -0.2
        scored.append((lex + 0.8 * sim + 0.15 / (r + 1) + brevity, u, m))
    score, u, m = max(scored, key=lambda s: s[0])
    return Extract(u, m, score)


def when(m: Memory) -> str:
    return m.occurred_at.strftime("%-d %b %Y %H:%M")


def extractive_answer(
    question: str, hits: Sequence[Hit], embedder: Any | None = None, names: Sequence[str] = ()
) -> tuple[str, list[str], bool]:
    """(answer text, cited ids, abstained) from retrieved memories alone."""
    if not answerable(question, hits, names):
        return ABSTAIN, [], True
    ex = best_extract(question, hits, embedder)
    if ex is None:
        return ABSTAIN, [], True
    m = ex.memory
    who = m.fields.get("actor") if m.type == "episodic" else None
    source = f"{who}, {when(m)}" if who and who != "user" else when(m)
    text = f"{LABEL}: \u201c{ex.sentence}\u201d ({m.type}, {source}) [{m.id}]"
    others = [h.memory.id for h in hits[1:3] if h.memory.id != m.id]
    if others:
        text += "\nSee also: " + ", ".join(f"[{i}]" for i in others)
    return text, [m.id, *others], False
