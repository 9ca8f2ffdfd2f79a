"""The memory tools the managers call: insert, update, merge, delete, noop per type.

Each manager gets tools over its own type only, so a resource manager cannot touch core
memory. Arguments are validated with the memory models before anything is written; a bad
call raises ToolError whose message goes back to the model as the tool result. Deletes
retire a memory (closed, kept in history, undone by a batch rollback) rather than erase it:
hard deletion is the user's ``forget``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engram.core.agents.batch import Batch, BatchResult
from engram.core.agents.safety import Proposal, instruction_flags, needs_confirmation
from engram.core.memory.models import (
    CORE_LIMIT,
    FIELDS,
    Memory,
    MemoryValidationError,
    validate_fields,
)
from engram.core.memory.store import (
    MemoryStore,
    NotFound,
)

COMPACT_AT = 0.9  # a core block over this share of its limit is rewritten shorter
Compactor = Callable[[str, str, int], str]


class ToolError(ValueError):
    """A tool call the model must fix; the message is its tool result."""


def retire(store: MemoryStore, mid: str, *, batch_id: str | None) -> None:
    """Close a memory without a successor (kept in history; ``rollback_batch`` reopens it)."""
    store.retire(mid, batch_id=batch_id)


# ------------------------------------------------------------------------------ schemas


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def fields_schema(mtype: str, *, partial: bool = False) -> dict[str, Any]:
    schema = _strip_titles(FIELDS[mtype].model_json_schema())
    schema.pop("$defs", None)
    schema.pop("additionalProperties", None)
    if partial:
        schema.pop("required", None)
    return schema


def _fn(name: str, desc: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


_SOURCES = {
    "type": "array",
    "items": {"type": "string"},
    "description": "ids of the data blocks this comes from (default: the whole batch)",
}
_NOOP = _fn("noop", "Nothing to change for this type.", {"reason": {"type": "string"}}, [])


def tool_schemas(mtype: str) -> list[dict[str, Any]]:
    """The tools of one manager (its own type only)."""
    if mtype == "core":
        label = {"type": "string", "enum": ["human", "persona"]}
        return [
            _fn(
                "append_core",
                "Append a short fact to a core block (human: about the user; persona: the "
                "assistant's own style the user asked for).",
                {"label": label, "text": {"type": "string"}, "source_ids": _SOURCES},
                ["label", "text"],
            ),
            _fn(
                "rewrite_core",
                "Replace a core block's whole value.",
                {"label": label, "value": {"type": "string"}, "source_ids": _SOURCES},
                ["label", "value"],
            ),
            _NOOP,
        ]
    full, part = fields_schema(mtype), fields_schema(mtype, partial=True)
    insert_props: dict[str, Any] = {"fields": full, "source_ids": _SOURCES}
    if mtype == "resource":
        insert_props["content_from"] = {
            "type": "array",
            "items": {"type": "string"},
            "description": "screen data ids whose text becomes `content` when it is omitted",
        }
    id_ = {"type": "string", "description": "id of an existing memory shown to you"}
    return [
        _fn(f"insert_{mtype}", f"Add a new {mtype} memory.", insert_props, ["fields"]),
        _fn(
            f"update_{mtype}",
            f"Change an existing {mtype} memory (writes a new version; only changed fields).",
            {"id": id_, "fields": part, "source_ids": _SOURCES},
            ["id", "fields"],
        ),
        _fn(
            f"merge_{mtype}",
            f"Merge duplicate {mtype} memories into one with these complete fields.",
            {"ids": {"type": "array", "items": {"type": "string"}, "minItems": 2}, "fields": full},
            ["ids", "fields"],
        ),
        _fn(
            f"delete_{mtype}",
            f"Retire a {mtype} memory that is wrong or obsolete.",
            {"id": id_, "reason": {"type": "string"}},
            ["id", "reason"],
        ),
        _NOOP,
    ]


# ------------------------------------------------------------------------------ context


@dataclass
class BatchContext:
    """What every manager of one batch shares: origin, sources, counters, proposals."""

    batch: Batch
    trust: str
    result: BatchResult
    compact: Compactor | None = None
    proposals: list[Proposal] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sources: dict[str, dict[str, str]] = {}
        self.apps: dict[str, str | None] = {}
        self.texts: dict[str, str] = {}
        for c in self.batch.captures:
            self.sources[c.uid] = {"kind": "capture", "ref": c.uid}
            self.apps[c.uid] = c.app
            self.texts[c.uid] = c.text
        for m in self.batch.messages:
            self.sources[m.ref] = {"kind": "chat", "ref": m.ref}

    def resolve_sources(self, ids: Any) -> list[dict[str, str]]:
        if not ids:
            return list(self.sources.values())
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ToolError("source_ids must be a list of data block ids")
        unknown = [i for i in ids if i not in self.sources]
        if unknown:
            raise ToolError(f"unknown source_ids {unknown}; use the ids of this batch's data")
        return [self.sources[i] for i in ids]

    def app_of(self, sources: list[dict[str, str]]) -> str | None:
        apps = {self.apps.get(s["ref"]) for s in sources if s["kind"] == "capture"}
        return apps.pop() if len(apps) == 1 else None

    def count(self, what: str, mtype: str = "") -> None:
        with self.lock:
            if what == "created":
                self.result.add(mtype)
            elif what == "updated":
                self.result.updated += 1
            elif what == "deleted":
                self.result.deleted += 1

    def propose(self, p: Proposal) -> str:
        with self.lock:
            if all(q.id != p.id for q in self.proposals):
                self.proposals.append(p)
        return (
            f"held for the user's confirmation as proposal {p.id} (screen or untrusted text "
            "cannot change this type by itself); do not retry it"
        )


# ------------------------------------------------------------------------------ executor


def _obj(args: dict[str, Any], key: str) -> dict[str, Any]:
    v = args.get(key)
    if not isinstance(v, dict):
        raise ToolError(f"`{key}` must be an object of {key}")
    return v


def _str(args: dict[str, Any], key: str) -> str:
    v = args.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ToolError(f"`{key}` must be a non-empty string")
    return v


def core_value(store: MemoryStore, label: str, op: str, text: str) -> tuple[str, int]:
    """The block's new value for append/rewrite, and its limit."""
    if label not in ("human", "persona"):
        raise ToolError("label must be 'human' or 'persona'")
    cur = store.core_block(label)
    limit = int(cur.fields.get("limit") or CORE_LIMIT) if cur else CORE_LIMIT
    old = str(cur.fields.get("value", "")) if cur else ""
    if op == "append":
        value = f"{old}\n{text.strip()}".strip() if old else text.strip()
    else:
        value = text.strip()
    return value, limit


def write_core(
    store: MemoryStore,
    label: str,
    value: str,
    limit: int,
    *,
    compact: Compactor | None,
    trust: str,
    sources: list[dict],
    batch_id: str | None,
) -> Memory:
    """Set a core block, asking ``compact`` for a shorter rewrite when over 90% full."""
    if len(value) > COMPACT_AT * limit and compact is not None:
        value = compact(label, value, limit).strip()
    if len(value) > limit:
        raise ToolError(
            f"core block {label!r} would be {len(value)} characters, over its limit of {limit}; "
            "write it shorter"
        )
    return store.set_core_block(label, value, trust=trust, sources=sources, batch_id=batch_id)


class ToolBox:
    """Runs one manager's tool calls against the store."""

    def __init__(self, store: MemoryStore, mtype: str, ctx: BatchContext) -> None:
        self.store = store
        self.mtype = mtype
        self.ctx = ctx
        self.names = {t["function"]["name"] for t in tool_schemas(mtype)}

    def run(self, name: str, args: dict[str, Any]) -> str:
        """Apply one call; ToolError (bad arguments, unknown ids) for the model to fix."""
        if name not in self.names:
            raise ToolError(f"unknown tool {name!r}; available: {', '.join(sorted(self.names))}")
        if name == "noop":
            return "ok, nothing changed"
        try:
            if self.mtype == "core":
                return self._core(name, args)
            op = name.split("_", 1)[0]
            return getattr(self, f"_{op}")(args)
        except MemoryValidationError as exc:
            raise ToolError(str(exc)) from None
        except NotFound as exc:
            raise ToolError(f"no memory with id {exc}") from None

    def _current(self, mid: Any) -> Memory:
        if not isinstance(mid, str) or not mid:
            raise ToolError("`id` must be the id of an existing memory")
        m = self.store.get(mid)
        if m is None:
            raise ToolError(f"no memory with id {mid!r}")
        if m.type != self.mtype:
            raise ToolError(f"{mid} is a {m.type} memory; you manage {self.mtype} only")
        if not m.current:
            raise ToolError(f"{mid} is an old version; it was replaced by {m.superseded_by}")
        return m

    def _guard(self, op: str, fields: dict[str, Any], targets: list[str], srcs: list) -> str | None:
        if not needs_confirmation(self.mtype, self.ctx.trust, fields):
            return None
        p = Proposal(
            type=self.mtype,
            op=op,
            fields=fields,
            trust=self.ctx.trust,
            target_ids=targets,
            sources=srcs,
            flags=instruction_flags(" ".join(str(v) for v in fields.values())),
            batch_id=self.ctx.batch.id,
        )
        return self.ctx.propose(p)

    def _insert(self, args: dict[str, Any]) -> str:
        fields = dict(_obj(args, "fields"))
        if self.mtype == "resource" and not fields.get("content") and args.get("content_from"):
            ids = self.ctx.resolve_sources(args["content_from"])
            fields["content"] = "\n".join(self.ctx.texts.get(s["ref"], "") for s in ids).strip()
        validate_fields(self.mtype, fields)
        srcs = self.ctx.resolve_sources(args.get("source_ids"))
        held = self._guard("insert", fields, [], srcs)
        if held:
            return held
        m = self.store.add(
            self.mtype,
            fields,
            sources=srcs,
            trust=self.ctx.trust,
            batch_id=self.ctx.batch.id,
            app=self.ctx.app_of(srcs),
        )
        self.ctx.count("created", self.mtype)
        return f"inserted {m.id}"

    def _update(self, args: dict[str, Any]) -> str:
        old = self._current(args.get("id"))
        changes = _obj(args, "fields")
        validate_fields(self.mtype, {**old.fields, **changes})
        srcs = self.ctx.resolve_sources(args.get("source_ids"))
        held = self._guard("update", {**old.fields, **changes}, [old.id], srcs)
        if held:
            return held
        new = self.store.update(
            old.id, changes, sources=srcs, trust=self.ctx.trust, batch_id=self.ctx.batch.id
        )
        self.ctx.count("updated")
        return f"updated {old.id}; the current version is now {new.id}"

    def _merge(self, args: dict[str, Any]) -> str:
        ids = args.get("ids")
        if not isinstance(ids, list) or len(set(map(str, ids))) < 2:
            raise ToolError("`ids` must list at least two different memory ids")
        mems = [self._current(i) for i in dict.fromkeys(ids)]
        fields = _obj(args, "fields")
        validate_fields(self.mtype, fields)
        srcs = [s.model_dump() for m in mems[1:] for s in m.sources]
        srcs += self.ctx.resolve_sources(None)
        held = self._guard("merge", fields, [m.id for m in mems], srcs)
        if held:
            return held
        new = self.store.update(
            mems[0].id,
            fields,
            sources=srcs,
            trust=self.ctx.trust,
            batch_id=self.ctx.batch.id,
            replace=True,
        )
        for m in mems[1:]:
            retire(self.store, m.id, batch_id=self.ctx.batch.id)
        self.ctx.count("updated")
        for _ in mems[1:]:
            self.ctx.count("deleted")
        return f"merged into {new.id}"

    def _delete(self, args: dict[str, Any]) -> str:
        m = self._current(args.get("id"))
        reason = str(args.get("reason") or "")
        held = self._guard("delete", {"reason": reason}, [m.id], [])
        if held:
            return held
        retire(self.store, m.id, batch_id=self.ctx.batch.id)
        self.ctx.count("deleted")
        return f"retired {m.id}"

    def _core(self, name: str, args: dict[str, Any]) -> str:
        label = _str(args, "label")
        op = "append" if name == "append_core" else "rewrite"
        text = _str(args, "text" if op == "append" else "value")
        srcs = self.ctx.resolve_sources(args.get("source_ids"))
        value, limit = core_value(self.store, label, op, text)
        held = self._guard(op, {"label": label, "text": text}, [], srcs)
        if held:
            return held
        m = write_core(
            self.store,
            label,
            value,
            limit,
            compact=self.ctx.compact,
            trust=self.ctx.trust,
            sources=srcs,
            batch_id=self.ctx.batch.id,
        )
        self.ctx.count("updated")
        return f"core block {label} is now {len(m.fields.get('value', ''))}/{limit} characters"


def apply_proposal(
    store: MemoryStore, p: Proposal, *, compact: Compactor | None = None
) -> list[str]:
    """Write a proposal the user confirmed (trust "user"; rollback-able as ``confirm:<id>``)."""
    batch_id = f"confirm:{p.id}"
    srcs = [*p.sources, {"kind": "user", "ref": f"confirm:{p.id}"}]
    if p.type == "core":
        value, limit = core_value(store, p.fields["label"], p.op, p.fields["text"])
        m = write_core(
            store,
            p.fields["label"],
            value,
            limit,
            compact=compact,
            trust="user",
            sources=srcs,
            batch_id=batch_id,
        )
        return [m.id]
    if p.op == "insert":
        return [store.add(p.type, p.fields, sources=srcs, trust="user", batch_id=batch_id).id]
    if p.op in ("update", "merge"):
        new = store.update(
            p.target_ids[0],
            p.fields,
            sources=srcs,
            trust="user",
            batch_id=batch_id,
            replace=p.op == "merge",
        )
        for mid in p.target_ids[1:]:
            retire(store, mid, batch_id=batch_id)
        return [new.id]
    if p.op == "delete":
        for mid in p.target_ids:
            retire(store, mid, batch_id=batch_id)
        return list(p.target_ids)
    raise ValueError(f"unknown proposal op {p.op!r}")
