"""What Engram hands to other tools (MCP clients, scripts): one policy for every front end.

- Knowledge Vault secret values never leave: outputs are built from ``Memory.public()`` and
  ``Hit.public()``, which hold no secret (only ``has_secret``).
- High-sensitivity vault items are not shown at all: filtered from search, timeline and
  answers; fetching one by id is "not found", exactly like an id that does not exist.
- Writes are the user's: another tool acts for the user, so an added memory has trust
  ``user`` and a source ``{"kind": "user", "ref": "mcp:<time>"}`` (or ``api:<time>``). A
  vault secret may be stored this way (the user asked their assistant to keep it), but no
  tool or endpoint ever returns it; it can be revealed only in the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from engram.core.memory.models import FIELDS, MEMORY_TYPES, Memory
from engram.core.memory.store import NotFound

MAX_K = 50
MAX_QUERY = 2000
MAX_QUESTION = 4000
MAX_TIMELINE = 2000
CORE_LABELS = ("human", "persona")
_HIDDEN_TEXT = "[hidden vault item]"


@dataclass
class FieldError:
    field: str
    message: str


class InvalidInput(ValueError):
    """Arguments that cannot be used; ``errors`` names each bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))

    def public(self) -> list[dict[str, str]]:
        return [{"field": e.field, "message": e.message} for e in self.errors]


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput([FieldError(field, message)])


def hidden(m: Memory) -> bool:
    """High-sensitivity Knowledge Vault items are never shown to other tools."""
    return m.type == "knowledge_vault" and m.fields.get("sensitivity") == "high"


def parse_when(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    """ISO 8601 or a phrase ("yesterday", "last week"); for ``end`` the phrase's end."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        d = datetime.fromisoformat(text)
        return d if d.tzinfo else d.astimezone()
    except ValueError:
        pass
    from engram.core.memory.timeparse import parse_time_query

    try:
        rng = parse_time_query(text).range
    except ValueError:
        rng = None
    got = None if rng is None else (rng.end if end else rng.start)
    if got is None:
        raise _bad(field, f"cannot read {text[:60]!r}: use ISO 8601 or a phrase like 'yesterday'")
    return got


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise _bad("k", f"must be between 1 and {MAX_K}")


def _check_text(field: str, text: str, limit: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise _bad(field, "must not be empty")
    if len(text) > limit:
        raise _bad(field, f"must be at most {limit} characters")
    return text


def search(
    svc: Any,
    query: str,
    k: int = 10,
    type: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[dict[str, Any]]:
    """Ranked memories, hidden ones left out (asks for more so that k remain)."""
    _check_text("query", query, MAX_QUERY)
    _check_k(k)
    if type is not None and type not in MEMORY_TYPES:
        raise _bad("type", f"unknown memory type; one of: {', '.join(MEMORY_TYPES)}")
    lo, hi = parse_when(since, "since"), parse_when(until, "until", end=True)
    n = k
    while True:
        hits = svc.search(query, k=n, types=[type] if type else None, since=lo, until=hi)
        shown = [h for h in hits if not hidden(h.memory)]
        if len(shown) >= k or len(hits) < n or n >= 8 * k:
            return [h.public() for h in shown[:k]]
        n *= 2


def ask(svc: Any, question: str) -> dict[str, Any]:
    """An answer with citations, from the service's chat agent.

    Hidden items are taken out of what the agent retrieves; with an LLM, its own tool
    searches may still meet one (by caption; it never sees a secret), so the answer is
    filtered again: such items are dropped from memories/citations and their captions
    masked in the text.
    """
    _check_text("question", question, MAX_QUESTION)
    agent = svc.chat_agent()
    retrieve = agent.retrieve

    def shown_only(q: str, history: Any = None) -> list[Any]:
        return [h for h in retrieve(q, history) if not hidden(h.memory)]

    agent.retrieve = shown_only  # the agent's own retrieval, minus hidden items
    ans = agent.ask(question)
    out = dict(ans.public())
    used = {h.memory.id: h.memory for h in ans.memories}
    for cid in ans.citations:
        if cid not in used:
            try:
                used[cid] = svc.get_memory(cid)
            except NotFound:
                continue
    secret_ids = {mid for mid, m in used.items() if hidden(m)}
    text = str(out.get("answer", ""))
    for mid in secret_ids:
        text = text.replace(f"[{mid}]", "")
        caption = str(used[mid].fields.get("caption", "")).strip()
        if caption:
            text = re.sub(re.escape(caption), _HIDDEN_TEXT, text, flags=re.IGNORECASE)
    out["answer"] = text
    out["memories"] = [h.public() for h in ans.memories if h.memory.id not in secret_ids]
    out["citations"] = [c for c in ans.citations if c not in secret_ids]
    return out


def timeline(
    svc: Any, start: str, end: str, app: str | None = None, limit: int = 200
) -> dict[str, Any]:
    """Episodic memories in [start, end), oldest first; ``truncated`` if over ``limit``."""
    lo = parse_when(start, "start")
    hi = parse_when(end, "end", end=True)
    if lo is None:
        raise _bad("start", "is required")
    if hi is None:
        raise _bad("end", "is required")
    if hi <= lo:
        raise _bad("end", "must be after start")
    if not 1 <= limit <= MAX_TIMELINE:
        raise _bad("limit", f"must be between 1 and {MAX_TIMELINE}")
    mems = [m for m in svc.timeline(lo, hi, app=app or None) if not hidden(m)]
    return {"memories": [m.public() for m in mems[:limit]], "truncated": len(mems) > limit}


def get_memory(svc: Any, mid: str) -> dict[str, Any]:
    """One memory (any version) by id; hidden items are "not found" like missing ones."""
    if not isinstance(mid, str) or not 1 <= len(mid) <= 64:
        raise NotFound(f"no memory {str(mid)[:64]}")
    m = svc.get_memory(mid)
    latest = svc.store.latest(mid)
    if hidden(m) or (latest is not None and hidden(latest)):
        raise NotFound(f"no memory {mid}")
    return m.public()


def add_memory(svc: Any, type: str, fields: Any, origin: str) -> dict[str, Any]:
    """Add a memory as the user (trust ``user``, source ``<origin>:<time>``).

    The answer is the stored memory without any secret. A high-sensitivity vault item is
    stored but afterwards not listed or fetched, like any other hidden item.
    """
    if type not in MEMORY_TYPES:
        raise _bad("type", f"unknown memory type; one of: {', '.join(MEMORY_TYPES)}")
    if not isinstance(fields, dict):
        raise _bad("fields", "must be an object")
    try:
        FIELDS[type].model_validate(fields)
    except ValidationError as exc:
        raise InvalidInput(
            [
                FieldError(".".join(["fields", *(str(p) for p in e["loc"])]), e["msg"])
                for e in exc.errors()
            ]
        ) from None
    except TypeError as exc:  # a lenient before-validator met a value it cannot read
        raise _bad("fields", f"a field has the wrong type ({exc})") from None
    ref = f"{origin}:{datetime.now(UTC).isoformat(timespec='seconds')}"
    m = svc.add_memory(type, fields, sources=[{"kind": "user", "ref": ref}], trust="user")
    return m.public()


def core_block(svc: Any, label: str) -> dict[str, Any]:
    """A core memory block (``human`` or ``persona``): its text and limit."""
    if label not in CORE_LABELS:
        raise NotFound(f"no core block {label[:32]!r}; one of: {', '.join(CORE_LABELS)}")
    m = svc.store.core_block(label)
    if m is None:
        return {"label": label, "value": "", "limit": None, "id": None, "updated_at": None}
    return {
        "label": label,
        "value": m.fields.get("value", ""),
        "limit": m.fields.get("limit"),
        "id": m.id,
        "updated_at": m.updated_at.isoformat(),
    }
