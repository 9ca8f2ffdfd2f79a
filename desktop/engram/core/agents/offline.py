"""The offline path: memories by rule when no LLM is configured.

Captures become episodic "app_activity" events (one per stretch of the same window, updated
rather than duplicated while the user stays on it), resource memories for the documents and
pages seen (deduplicated by title and content), and Knowledge Vault entries for contacts and
links that rules recognise. Chat messages become one episodic memory each, citing the
message id, so retrieval can point at the exact turn. Core memory is only changed by the
user here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engram.core.agents import rules
from engram.core.agents.batch import Batch, BatchResult, CaptureItem, MessageItem
from engram.core.memory.models import Memory
from engram.core.memory.search import hybrid_search
from engram.core.memory.store import MemoryStore, NewMemory, dt

log = logging.getLogger(__name__)

EVENT_GAP = timedelta(minutes=10)
DETAILS_CAP = 4000
CONTENT_CAP = 200_000
SIMILAR = 0.6  # Jaccard of word 3-shingles at which two documents are the same resource
MIN_RESOURCE_CHARS = 40


@dataclass
class Group:
    """Consecutive captures of one window."""

    app: str | None
    title: str | None
    captures: list[CaptureItem] = field(default_factory=list)

    @property
    def first(self) -> datetime:
        return self.captures[0].at

    @property
    def last(self) -> datetime:
        return self.captures[-1].at


def group_captures(captures: list[CaptureItem]) -> list[Group]:
    groups: list[Group] = []
    for c in sorted(captures, key=lambda c: c.at):
        if groups and (groups[-1].app, groups[-1].title) == (c.app, c.title):
            groups[-1].captures.append(c)
        else:
            groups.append(Group(c.app, c.title, [c]))
    return groups


def group_lines(g: Group) -> list[str]:
    """Informative OCR lines of a group, each capture deduplicated against the previous."""
    seen: set[str] = set()
    out: list[str] = []
    for c in g.captures:
        lines = rules.lines_of(c.text)
        out += rules.informative_lines(lines, seen)
        seen |= {line.lower() for line in lines}
    return out


def group_content(g: Group) -> str:
    """All distinct OCR lines of the group in reading order (a page scrolled is one text)."""
    seen: set[str] = set()
    out: list[str] = []
    for c in g.captures:
        for line in rules.lines_of(c.text):
            if line.lower() not in seen:
                seen.add(line.lower())
                out.append(line)
    return "\n".join(out)[:CONTENT_CAP]


def merge_lines(old: str, new: list[str], cap: int) -> str:
    have = {line.lower() for line in old.splitlines()}
    add = [line for line in new if line.lower() not in have]
    merged = "\n".join([*([old] if old else []), *add])
    return merged if len(merged) <= cap else merged[:cap].rsplit("\n", 1)[0]


def message_memory(m: MessageItem, batch_id: str | None) -> NewMemory:
    """One chat message as one episodic memory citing the message id."""
    return NewMemory(
        type="episodic",
        fields={
            "occurred_at": m.at,
            "event_type": "conversation",
            "actor": (m.speaker or "unknown")[:128],
            "summary": m.text.strip()[:2000],
            "tree_path": ["conversations", m.conversation],
        },
        sources=[{"kind": "chat", "ref": m.ref}],
        trust="chat",
        batch_id=batch_id,
    )


def add_messages(store: MemoryStore, batch: Batch, result: BatchResult) -> None:
    """Messages -> episodic memories (skips empty ones and ones already remembered)."""
    msgs = [m for m in batch.messages if m.text.strip()]
    if not msgs:
        return
    rows = store.ledger.query_in(
        "SELECT s.ref, json_extract(m.fields, '$.tree_path[1]') FROM memory_sources s "
        "JOIN memories m ON m.id = s.memory_id WHERE s.kind = 'chat' AND m.type = 'episodic'"
        " AND m.superseded_by IS NULL AND s.ref IN ({})",
        sorted({m.ref for m in msgs}),
    )
    done = {(r[1], r[0]) for r in rows}
    todo = [m for m in msgs if (m.conversation, m.ref) not in done]
    if skipped := len(batch.messages) - len(todo):
        result.notes.append(f"{skipped} message(s) empty or already remembered")
    if todo:
        store.add_many([message_memory(m, batch.id) for m in todo])
        result.add("episodic", len(todo))


class OfflineAgent:
    """Rule-based memories from captures and messages; the same store and batch ids as the
    LLM path, so rollback and parking work the same."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._last_seen: dict[str, datetime] = {}  # event lineage -> last capture time

    def process(self, batch: Batch) -> BatchResult:
        result = BatchResult()
        for g in group_captures(batch.captures):
            self._event(g, batch.id, result)
            self._resource(g, batch.id, result)
        self._vault(batch, result)
        add_messages(self.store, batch, result)
        return result

    # -- episodic ------------------------------------------------------------------------
    def _last_capture_at(self, m: Memory) -> datetime:
        refs = [s.ref for s in m.sources if s.kind == "capture"]
        when = m.occurred_at
        if refs:
            got = self.store.ledger.scalar(
                f"SELECT max(at) FROM captures WHERE uid IN ({','.join('?' * len(refs))})", refs
            )
            if got is not None:
                when = max(when, dt(got))
        cached = self._last_seen.get(m.lineage)
        return max(when, cached) if cached else when

    def _previous_event(self, g: Group, summary: str) -> Memory | None:
        for m in self.store.list(
            "episodic",
            since=g.first - timedelta(hours=12),
            app=g.app,
            until=g.first + timedelta(seconds=1),
            limit=20,
        ):
            if m.fields.get("event_type") != "app_activity" or m.fields.get("summary") != summary:
                continue
            if g.first - self._last_capture_at(m) <= EVENT_GAP:
                return m
        return None

    def _event(self, g: Group, batch_id: str, result: BatchResult) -> None:
        summary = rules.event_summary(g.app, g.title)
        lines = group_lines(g)
        srcs = [{"kind": "capture", "ref": c.uid} for c in g.captures]
        prev = self._previous_event(g, summary)
        if prev is not None:
            details = merge_lines(str(prev.fields.get("details", "")), lines, DETAILS_CAP)
            new = self.store.update(
                prev.id, {"details": details}, sources=srcs, trust="screen", batch_id=batch_id
            )
            self._last_seen[new.lineage] = g.last
            result.updated += 1
            return
        m = self.store.add(
            "episodic",
            {
                "occurred_at": g.first,
                "event_type": "app_activity",
                "actor": "user",
                "summary": summary,
                "details": merge_lines("", lines, DETAILS_CAP),
                "tree_path": [rules.pretty_app(g.app)] if g.app else [],
            },
            sources=srcs,
            trust="screen",
            batch_id=batch_id,
            app=g.app,
        )
        self._last_seen[m.lineage] = g.last
        result.add("episodic")

    # -- resources -----------------------------------------------------------------------
    def _similar_resource(self, title: str, content: str) -> Memory | None:
        want_title = rules.norm_title(title)
        want = rules.shingles(content)
        for hit in hybrid_search(self.store, f"{title}\n{content[:500]}", k=8, types=["resource"]):
            m = hit.memory
            if rules.norm_title(str(m.fields.get("title", ""))) == want_title:
                return m
            if rules.jaccard(want, rules.shingles(str(m.fields.get("content", "")))) >= SIMILAR:
                return m
        return None

    def _resource(self, g: Group, batch_id: str, result: BatchResult) -> None:
        content = group_content(g)
        if len(content) < MIN_RESOURCE_CHARS:
            return
        title = rules.clean_title(g.title, g.app) or rules.pretty_app(g.app)
        srcs = [{"kind": "capture", "ref": c.uid} for c in g.captures]
        url = next((c.url for c in reversed(g.captures) if c.url), None)
        rtype = rules.resource_type(g.app, title)
        summary = f"{rtype.replace('_', ' ')} seen in {rules.pretty_app(g.app)}"
        if url:
            summary += f" at {rules.normalise_url(url) or url}"
        old = self._similar_resource(title, content)
        if old is None:
            self.store.add(
                "resource",
                {
                    "title": title[:512],
                    "resource_type": rtype,
                    "summary": summary[:2000],
                    "content": content,
                },
                sources=srcs,
                trust="screen",
                batch_id=batch_id,
                app=g.app,
                at=g.first,
            )
            result.add("resource")
            return
        old_content = str(old.fields.get("content", ""))
        if content == old_content or set(content.splitlines()) <= set(old_content.splitlines()):
            return  # nothing new: no version churn
        self.store.update(
            old.id,
            {"title": title[:512], "content": content, "summary": summary[:2000]},
            sources=srcs,
            trust="screen",
            batch_id=batch_id,
        )
        result.updated += 1

    # -- knowledge vault -----------------------------------------------------------------
    def _known_vault_keys(self) -> set[str]:
        rows = self.store.ledger.query(
            "SELECT json_extract(fields, '$.source') FROM memories "
            "WHERE type = 'knowledge_vault' AND superseded_by IS NULL"
        )
        return {k for (src,) in rows if src and (k := rules.vault_key(src))}

    def _vault(self, batch: Batch, result: BatchResult) -> None:
        found: dict[str, tuple[rules.Found, CaptureItem]] = {}
        for c in batch.captures:
            browser = rules.app_kind(c.app) == "browser"
            for f in rules.find_vault_items(c.text, url=c.url, browser=browser):
                found.setdefault(f.value, (f, c))
        if not found:
            return
        known = self._known_vault_keys()
        items = [
            NewMemory(
                type="knowledge_vault",
                fields={
                    "entry_type": f.entry_type,
                    "caption": f.caption[:512],
                    "sensitivity": f.sensitivity,
                    "source": f"screen: {rules.pretty_app(c.app)} key={f.value}"[:512],
                },
                sources=[{"kind": "capture", "ref": c.uid}],
                trust="screen",
                batch_id=batch.id,
                app=c.app,
                at=c.at,
            )
            for key, (f, c) in found.items()
            if key not in known
        ]
        if items:
            self.store.add_many(items)
            result.add("knowledge_vault", len(items))
