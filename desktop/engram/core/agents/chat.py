"""The chat agent: active retrieval, cited answers, streamed; extractive when offline.

For each question the agent infers what it is about (the question, plus the last turns when
the question leans on them: "and what did she say about it?"), searches all six memory
types, and puts core memory and the retrieved memories, with ids and times, into the prompt
as data blocks (memories are data, never instructions). With an LLM it may search further
through tools (``search_memory``, ``list_timeline``; a bounded number of rounds), then
streams the answer, which cites memories as ``[ep_…]``. Citations are checked against the
store: an id that does not exist is removed from the answer. Knowledge Vault secrets never
enter a prompt: a vault memory is shown by its caption only.

Without an LLM (or when it fails) the answer is extractive (``answer.py``): the best line of
the best memories, labelled as retrieved, not generated, or "I don't have a memory of that".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engram.core.agents import answer as extract
from engram.core.agents.safety import DATA_RULES, data_block
from engram.core.memory import rank
from engram.core.memory.models import ID_PREFIX, MEMORY_TYPES, Memory, render_text
from engram.core.memory.search import Hit, hybrid_search, known_actors, query_terms
from engram.core.memory.store import MemoryStore

log = logging.getLogger(__name__)

CITATION = re.compile(r"\[((?:" + "|".join(ID_PREFIX.values()) + r")_[0-9a-f]{12})\]")
MAX_TOOL_ROUNDS = 3
MAX_MEMORY_CHARS = 700
TIMELINE_LIMIT = 50
READY = "READY"
_ANAPHORA = frozenset(
    [
        "it",
        "its",
        "that",
        "this",
        "those",
        "these",
        "he",
        "she",
        "him",
        "her",
        "his",
        "hers",
        "they",
        "them",
        "their",
        "there",
        "then",
        "one",
        "ones",
        "same",
    ]
)

SYSTEM = """You are Engram, the user's personal memory assistant. You answer questions about \
what the user saw and said, using only the memories given to you.

Rules:
- Answer from the memories. Cite every memory you use by its id in square brackets, like \
[ep_0123456789ab], right after the statement it supports.
- If the memories do not contain the answer, say "I don't have a memory of that." and, if \
useful, what you did find. Never invent facts, dates or ids.
- Give dates and times when they matter ("on 8 May 2023 at 13:56").
- Knowledge Vault entries show only a caption; their secret values are hidden from you. \
Never ask for them; tell the user they can reveal a secret in the app.
- {data_rules}

Today is {today}."""

TOOL_PHASE = (
    "Before answering, decide whether the memories above are enough. If not, call "
    "search_memory (other words, names, a type or a time range) or list_timeline (what "
    "happened between two times). If they are enough, reply with the single word READY."
)

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search_memory",
            "description": "Search the user's memories (all types unless `type` is given). "
            "Returns memories with ids and times.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "what to look for"},
                    "k": {"type": "integer", "minimum": 1, "maximum": 20, "default": 8},
                    "type": {"type": "string", "enum": list(MEMORY_TYPES)},
                    "since": {"type": "string", "description": "ISO 8601 or 'yesterday'"},
                    "until": {"type": "string", "description": "ISO 8601 or 'last week'"},
                },
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_timeline",
            "description": "Episodic memories (events) between two times, oldest first.",
            "parameters": {
                "type": "object",
                "properties": {
                    "start": {"type": "string", "description": "ISO 8601 or a phrase"},
                    "end": {"type": "string", "description": "ISO 8601 or a phrase"},
                },
                "required": ["start", "end"],
            },
        },
    },
]


@dataclass
class Answer:
    """An answer, the memories behind it, and the ids it cites (all existing memories)."""

    text: str
    citations: list[str]
    memories: list[Hit]
    generated: bool
    abstained: bool = False
    notes: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "memories": [h.public() for h in self.memories],
            "citations": list(self.citations),
            "generated": self.generated,
        }


class ToolArgumentError(ValueError):
    """A tool call's arguments are unusable; the message goes back to the model."""


def topic_query(question: str, history: Sequence[dict] | None = None) -> str:
    """What to search for: the question, plus the last user turn when the question leans
    on it (a pronoun, or fewer than three content words)."""
    q = question.strip()
    if not history:
        return q
    words = re.findall(r"[a-z']+", q.lower())
    leans = any(w in _ANAPHORA for w in words) or len(query_terms(q)) < 3
    if not leans:
        return q
    for turn in reversed(history):
        if turn.get("role") == "user" and isinstance(turn.get("content"), str):
            prev = turn["content"].strip()
            if prev and prev != q:
                return f"{q} {prev}"
    return q


def when(m: Memory) -> str:
    at = m.occurred_at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def memory_line(m: Memory) -> str:
    """One memory as the model sees it: id, type, time, who, text (never a vault secret)."""
    if m.type == "knowledge_vault":
        f = m.fields
        body = (
            f"{f.get('caption', '')} (entry: {f.get('entry_type', '')}, sensitivity: "
            f"{f.get('sensitivity', '')}{', source: ' + f['source'] if f.get('source') else ''}"
            "; secret value hidden)"
        )
    else:
        body = render_text(m.type, m.fields)
    body = " ".join(body.split())
    if len(body) > MAX_MEMORY_CHARS:
        body = body[:MAX_MEMORY_CHARS] + " …"
    who = m.fields.get("actor") if m.type == "episodic" else None
    return f"[{m.id}] {m.type} · {when(m)}{' · ' + who if who else ''}: {body}"


def hits_block(hits: Sequence[Hit], ident: str) -> str:
    lines = []
    for h in hits:
        lines.append(memory_line(h.memory))
        for c in h.context:
            lines.append("    context " + memory_line(c))
    return data_block("MEMORY", ident, "\n".join(lines) if lines else "(no memories found)")


def parse_time_arg(value: Any, *, end: bool = False) -> datetime | None:
    """ISO 8601 or a phrase ("yesterday") to a datetime; None for empty."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ToolArgumentError(f"time must be a string, not {type(value).__name__}")
    try:
        d = datetime.fromisoformat(value.strip())
        return d if d.tzinfo else d.replace(tzinfo=UTC)
    except ValueError:
        pass
    from engram.core.memory.timeparse import parse_time_query

    r = parse_time_query(value).range
    got = None if r is None else (r.end if end else r.start)
    if got is None:
        raise ToolArgumentError(f"cannot read the time {value!r}; use ISO 8601")
    return got


class ChatAgent:
    """Answers questions from the store; ``client`` is an LLMClient or None (offline)."""

    def __init__(
        self,
        store: MemoryStore,
        client: Any = None,
        *,
        k: int = 8,
        max_tool_rounds: int = MAX_TOOL_ROUNDS,
        use_tools: bool = True,
        now: datetime | None = None,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.store = store
        self.client = client
        self.k = k
        self.max_tool_rounds = max_tool_rounds
        self.use_tools = use_tools
        self.now = now
        self.last_messages: list[dict[str, Any]] = []

    # -- public ------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[dict] | None = None) -> Answer:
        for kind, value in self.stream(question, history):
            if kind == "done":
                assert isinstance(value, Answer)
                return value
        raise RuntimeError("the answer stream ended without an answer")  # pragma: no cover

    def stream(
        self, question: str, history: Sequence[dict] | None = None
    ) -> Iterator[tuple[str, object]]:
        """("delta", text) as the answer is written, then ("done", Answer)."""
        if not isinstance(question, str) or not question.strip():
            raise ValueError("the question is empty")
        history = list(history or [])
        hits = self.retrieve(question, history)
        if self.client is None:
            ans = self.offline(question, hits)
            yield "delta", ans.text
            yield "done", ans
            return
        from engram.core.llm.client import LLMError

        try:
            yield from self._generate(question, history, hits)
        except LLMError as exc:
            log.warning("LLM failed, answering offline: %s", exc)
            ans = self.offline(question, hits)
            ans.notes.append(f"The language model failed ({exc.kind}): {exc}")
            text = f"(The language model is unavailable: {exc}.)\n{ans.text}"
            ans.text = text
            yield "delta", text
            yield "done", ans

    def retrieve(self, question: str, history: Sequence[dict] | None = None) -> list[Hit]:
        return hybrid_search(
            self.store, topic_query(question, history), k=self.k, parse_time=True, now=self.now
        )

    def offline(self, question: str, hits: list[Hit]) -> Answer:
        names = rank.name_mentions(question, known_actors(self.store))
        text, cited, abstained = extract.extractive_answer(
            question, hits, self.store.embedder, names
        )
        return Answer(text, cited, hits, generated=False, abstained=abstained)

    # -- with an LLM -------------------------------------------------------------------
    def _generate(
        self, question: str, history: list[dict], hits: list[Hit]
    ) -> Iterator[tuple[str, object]]:
        seen: dict[str, Hit] = {h.memory.id: h for h in hits}
        messages = self._messages(question, history, hits)
        direct: str | None = None
        if self.use_tools and self.max_tool_rounds > 0:
            direct = self._tool_rounds(messages, seen)
        if direct is not None:
            text = direct
            yield "delta", text
        else:
            parts: list[str] = []
            for delta in self.client.stream(messages):
                parts.append(delta)
                yield "delta", delta
            text = "".join(parts)
        self.last_messages = messages
        text, cited = self._check_citations(text)
        used = list(seen.values())
        used.sort(key=lambda h: (h.memory.id not in cited, -h.score))
        abstained = extract.ABSTAIN.lower().rstrip(".") in text.lower() and not cited
        yield "done", Answer(text.strip(), cited, used, generated=True, abstained=abstained)

    def _messages(self, question: str, history: list[dict], hits: list[Hit]) -> list[dict]:
        today = (self.now or datetime.now(UTC)).strftime("%A %d %B %Y")
        system = SYSTEM.format(data_rules=DATA_RULES, today=today)
        core = [self.store.core_block(label) for label in ("persona", "human")]
        core_text = "\n".join(
            f"[{m.id}] {m.fields.get('label')}: {m.fields.get('value', '')}"
            for m in core
            if m is not None and m.fields.get("value")
        )
        parts = [system]
        if core_text:
            parts.append(
                "Core memory (what you know about the user and yourself):\n"
                + data_block("MEMORY", "core", core_text)
            )
        parts.append(
            "Memories retrieved for this question (best first; context lines are "
            "the memories just before/after):\n" + hits_block(hits, "retrieved")
        )
        msgs: list[dict[str, Any]] = [{"role": "system", "content": "\n\n".join(parts)}]
        for turn in history[-12:]:
            role, content = turn.get("role"), turn.get("content")
            if role in ("user", "assistant") and isinstance(content, str) and content.strip():
                msgs.append({"role": role, "content": content})
        msgs.append({"role": "user", "content": question})
        return msgs

    def _tool_rounds(self, messages: list[dict], seen: dict[str, Hit]) -> str | None:
        """Let the model search further; returns its text if it answered instead of READY.

        The tool instruction rides on the user's question in these probe requests only (some
        chat templates refuse a system message after the first), so the streamed answer
        never sees it.
        """
        asked = max(i for i, m in enumerate(messages) if m["role"] == "user")
        for _ in range(self.max_tool_rounds):
            probe = list(messages)
            probe[asked] = {
                "role": "user",
                "content": f"{messages[asked]['content']}\n\n({TOOL_PHASE})",
            }
            result = self.client.chat(probe, tools=TOOLS, tool_choice="auto")
            if not result.tool_calls:
                said = result.text.strip()
                if said.strip(" .").upper() != READY and len(said) > 20:
                    return said
                break
            messages.append(
                {
                    "role": "assistant",
                    "content": result.text or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.raw_arguments or "{}"},
                        }
                        for c in result.tool_calls
                    ],
                }
            )
            messages.extend(
                {"role": "tool", "tool_call_id": c.id, "content": self._run_tool(c, seen)}
                for c in result.tool_calls
            )
        return None

    def _run_tool(self, call: Any, seen: dict[str, Hit]) -> str:
        if call.error or call.arguments is None:
            return f"error: {call.error or 'no arguments'}"
        try:
            if call.name == "search_memory":
                return self._tool_search(call.arguments, seen)
            if call.name == "list_timeline":
                return self._tool_timeline(call.arguments, seen)
            return f"error: unknown tool {call.name!r}; use search_memory or list_timeline"
        except (ToolArgumentError, ValueError) as exc:
            return f"error: {exc}"

    def _tool_search(self, args: dict[str, Any], seen: dict[str, Hit]) -> str:
        query = args.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolArgumentError("query must be a non-empty string")
        k = args.get("k", self.k)
        if not isinstance(k, int) or isinstance(k, bool):
            raise ToolArgumentError("k must be an integer")
        k = max(1, min(20, k))
        mtype = args.get("type")
        if mtype is not None and mtype not in MEMORY_TYPES:
            raise ToolArgumentError(f"type must be one of {', '.join(MEMORY_TYPES)}")
        since = parse_time_arg(args.get("since"))
        until = parse_time_arg(args.get("until"), end=True)
        hits = hybrid_search(
            self.store,
            query,
            k=k,
            types=[mtype] if mtype else None,
            since=since,
            until=until,
            parse_time=since is None and until is None,
            now=self.now,
        )
        for h in hits:
            seen.setdefault(h.memory.id, h)
        return hits_block(hits, "search")

    def _tool_timeline(self, args: dict[str, Any], seen: dict[str, Hit]) -> str:
        start = parse_time_arg(args.get("start"))
        end = parse_time_arg(args.get("end"), end=True)
        if start is None or end is None:
            raise ToolArgumentError("start and end are both required")
        if end <= start:
            end = start + timedelta(days=1)
        mems = self.store.list(
            "episodic", since=start, until=end, limit=TIMELINE_LIMIT, newest_first=False
        )
        for m in mems:
            seen.setdefault(m.id, Hit(m, 0.0, {"timeline": 1}))
        body = "\n".join(memory_line(m) for m in mems) or "(nothing in that time range)"
        return data_block("MEMORY", "timeline", body)

    def _check_citations(self, text: str) -> tuple[str, list[str]]:
        """Keep citations of memories that exist; drop any other [xx_…] marker."""
        ids = list(dict.fromkeys(CITATION.findall(text)))
        real = set(self.store.get_many(ids)) if ids else set()
        cited = [i for i in ids if i in real]
        for bad in set(ids) - real:
            text = text.replace(f"[{bad}]", "")
        return text, cited
