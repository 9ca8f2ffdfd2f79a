"""Pieces of ranking that need no store: exact tokens, weighted rank fusion, name matching.

Kept apart from ``search.py`` so they can be tested on plain strings and reused by the
extractive answerer. Exact tokens are the part of a query that must never match fuzzily:
codes ("LH2042"), addresses ("10.0.4.17"), amounts ("$1,249.00"), versions ("v2.3.1").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

RRF_K = 60

# A run of non-space characters holding a digit; trimmed of sentence punctuation.
_CHUNK = re.compile(r"[^\s]*\d[^\s]*")
_TRIM = "\"'`()[]{}<>?!;:,."
_CURRENCY = "$€£¥₹"


def exact_tokens(query: str) -> list[str]:
    """Tokens of ``query`` that must match exactly: codes, IPs, amounts, long numbers.

    A token qualifies when it holds a digit and either a letter (LH2042, AB-12), a
    separator between digits (10.0.4.17, 1,249.00, 12:30) or currency, or is 3+ digits.
    """
    out: dict[str, None] = {}
    for m in _CHUNK.finditer(query):
        tok = m.group().strip(_TRIM)
        if tok.endswith("'s"):
            tok = tok[:-2]
        if not tok or not any(c.isdigit() for c in tok):
            continue
        has_alpha = any(c.isalpha() for c in tok)
        has_sep = bool(re.search(r"\d[.,:/\-]\d", tok))
        money = tok[0] in _CURRENCY or tok[-1] in _CURRENCY
        digits = sum(c.isdigit() for c in tok)
        if re.fullmatch(r"\d{1,2}(st|nd|rd|th|s|am|pm)", tok, re.IGNORECASE):
            continue  # ordinals and clock words are not codes
        if has_alpha or has_sep or money or digits >= 3:
            out[tok] = None
    return list(out)


def core_of(token: str) -> str:
    """The part of a token compared literally: currency signs stripped (``$1,249`` -> ``1,249``)."""
    return token.strip(_CURRENCY).strip()


def _pattern(token: str) -> re.Pattern[str]:
    core = re.escape(core_of(token))
    # not glued to more word characters or to a further ".digit" / ",digit" group
    return re.compile(r"(?<![\w.,])" + core + r"(?![\w]|[.,:/\-]\w)", re.IGNORECASE)


def contains_exact(text: str, token: str) -> bool:
    """Whether ``text`` holds ``token`` as a whole token (LH2042 is not in LH20421)."""
    return bool(_pattern(token).search(text))


def shape(token: str) -> str:
    """The token's pattern: letters -> A, digits -> 9, other characters kept (LH2042 -> AA9999)."""
    core = core_of(token)
    return "".join("A" if c.isalpha() else "9" if c.isdigit() else c for c in core)


def near_misses(text: str, tokens: Iterable[str]) -> bool:
    """Whether ``text`` holds a code like a query code but not it: the same shape with
    another value ("LH2043" for "LH2042"), or a longer/shorter form ("10.0.4.170" for
    "10.0.4.17"). Such a memory is a fuzzy match and must not be offered."""
    words = {core_of(w.strip(_TRIM)).lower() for w in text.split()}
    for tok in tokens:
        if contains_exact(text, tok):
            continue
        core = core_of(tok).lower()
        want = shape(core)
        if len(want) < 3:
            continue
        for w in words:
            if not w or w == core:
                continue
            if shape(w) == want:
                return True
            longer, shorter = (w, core) if len(w) > len(core) else (core, w)
            if len(shorter) >= 4 and longer.startswith(shorter) and any(c.isdigit() for c in w):
                return True  # 10.0.4.170 for 10.0.4.17
    return False


def weighted_rrf(
    rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: int = RRF_K
) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
    """Reciprocal rank fusion with a weight per ranker: scores and each id's ranks."""
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, ids in rankings.items():
        w = weights.get(name, 1.0)
        for r, mid in enumerate(ids):
            if name not in ranks.setdefault(mid, {}):
                scores[mid] = scores.get(mid, 0.0) + w / (k + r + 1)
                ranks[mid][name] = r + 1
    return scores, ranks


def name_mentions(query: str, names: Iterable[str]) -> list[str]:
    """Names (e.g. speakers) mentioned in the query as whole words, possessives included."""
    found = []
    low = query.lower()
    for name in names:
        n = name.strip()
        if len(n) < 2 or n.lower() in ("user", "unknown", "assistant", "system"):
            continue
        if re.search(r"(?<!\w)" + re.escape(n.lower()) + r"(?:'s|s')?(?!\w)", low):
            found.append(n)
    return found


def strip_names(query: str, names: Iterable[str]) -> str:
    out = query
    for n in names:
        out = re.sub(r"(?<!\w)" + re.escape(n) + r"(?:'s|s')?(?!\w)", " ", out, flags=re.I)
    return " ".join(out.split())


def cosine_from_distance(d: float) -> float:
    """Chroma's cosine distance back to a similarity in [-1, 1]."""
    return 1.0 - d if math.isfinite(d) else -1.0
