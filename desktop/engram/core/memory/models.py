"""The six memory types, as validated models.

Field sets follow MIRIX (core, episodic, semantic, procedural, resource, knowledge vault);
every memory also carries versioning (valid_from / valid_until / superseded_by), its
sources, and a trust level by origin. A Knowledge Vault ``secret_value`` never sits in the
type's JSON: the store seals it apart and it is never embedded, indexed or exported.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MemoryType = Literal["core", "episodic", "semantic", "procedural", "resource", "knowledge_vault"]
MEMORY_TYPES: tuple[str, ...] = (
    "core",
    "episodic",
    "semantic",
    "procedural",
    "resource",
    "knowledge_vault",
)
ID_PREFIX = {
    "core": "co",
    "episodic": "ep",
    "semantic": "se",
    "procedural": "pr",
    "resource": "re",
    "knowledge_vault": "kv",
}
Trust = Literal["screen", "chat", "user"]
CORE_LIMIT = 2000


class MemoryValidationError(ValueError):
    """A memory's fields are invalid; the message lists every bad field."""


def new_id(mtype: str) -> str:
    return f"{ID_PREFIX[mtype]}_{secrets.token_hex(6)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(v: datetime) -> datetime:
    return v if v.tzinfo else v.replace(tzinfo=UTC)


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _tree(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [p.strip() for p in v.split("/") if p.strip()]
    if not isinstance(v, list | tuple):
        raise ValueError("tree_path must be a list of names or an 'a/b/c' string")
    return [str(p).strip() for p in v if str(p).strip()]


class CoreFields(_Fields):
    label: Literal["persona", "human"]
    value: str = ""
    limit: int = Field(CORE_LIMIT, ge=100, le=20000)

    @model_validator(mode="after")
    def _within_limit(self) -> CoreFields:
        if len(self.value) > self.limit:
            raise ValueError(
                f"core block {self.label!r} is {len(self.value)} characters, "
                f"over its limit of {self.limit}"
            )
        return self


class EpisodicFields(_Fields):
    occurred_at: datetime = Field(default_factory=utcnow)
    event_type: str = Field("activity", min_length=1, max_length=64)
    actor: str = Field("user", max_length=128)
    summary: str = Field(min_length=1, max_length=2000)
    details: str = Field("", max_length=100_000)
    tree_path: list[str] = Field(default_factory=list)

    _tp = field_validator("tree_path", mode="before")(_tree)

    @field_validator("occurred_at")
    @classmethod
    def _tz(cls, v: datetime) -> datetime:
        return _aware(v)


class SemanticFields(_Fields):
    name: str = Field(min_length=1, max_length=256)
    summary: str = Field(min_length=1, max_length=2000)
    details: str = Field("", max_length=100_000)
    source: str = Field("", max_length=512)
    tree_path: list[str] = Field(default_factory=list)

    _tp = field_validator("tree_path", mode="before")(_tree)


class ProceduralFields(_Fields):
    entry_type: Literal["workflow", "guide", "script"] = "workflow"
    summary: str = Field(min_length=1, max_length=2000)
    steps: list[str] = Field(default_factory=list, max_length=200)


class ResourceFields(_Fields):
    title: str = Field(min_length=1, max_length=512)
    resource_type: str = Field("document", min_length=1, max_length=64)
    summary: str = Field("", max_length=2000)
    content: str = Field("", max_length=1_000_000)


class VaultFields(_Fields):
    entry_type: str = Field("credential", min_length=1, max_length=64)
    source: str = Field("", max_length=512)
    sensitivity: Literal["low", "medium", "high"] = "medium"
    caption: str = Field(min_length=1, max_length=512)
    secret_value: str | None = Field(None, max_length=10_000, exclude=True)


FIELDS: dict[str, type[_Fields]] = {
    "core": CoreFields,
    "episodic": EpisodicFields,
    "semantic": SemanticFields,
    "procedural": ProceduralFields,
    "resource": ResourceFields,
    "knowledge_vault": VaultFields,
}


def _error_text(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'fields'}: {e['msg']}" for e in exc.errors()
    )


def validate_fields(mtype: str, data: dict[str, Any]) -> _Fields:
    """Validate a type's fields; raise MemoryValidationError naming each bad field."""
    if mtype not in FIELDS:
        raise MemoryValidationError(
            f"unknown memory type {mtype!r}; one of: {', '.join(MEMORY_TYPES)}"
        )
    if not isinstance(data, dict):
        raise MemoryValidationError(f"{mtype} fields must be an object, not {type(data).__name__}")
    try:
        return FIELDS[mtype].model_validate(data)
    except ValidationError as exc:
        raise MemoryValidationError(f"invalid {mtype} memory: {_error_text(exc)}") from None


class Source(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["capture", "chat", "user"]
    ref: str = Field(min_length=1, max_length=256)


class Memory(BaseModel):
    """One version of a memory, as stored."""

    id: str
    lineage: str
    type: MemoryType
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    valid_from: datetime
    valid_until: datetime | None = None
    superseded_by: str | None = None
    sources: list[Source] = Field(default_factory=list)
    trust: Trust = "user"
    batch_id: str | None = None
    has_secret: bool = False
    app: str | None = None  # the app a screen memory came from (timeline lanes, forget)

    @property
    def current(self) -> bool:
        return self.superseded_by is None and self.valid_until is None

    @property
    def occurred_at(self) -> datetime:
        if self.type == "episodic" and self.fields.get("occurred_at"):
            v = self.fields["occurred_at"]
            return _aware(datetime.fromisoformat(v) if isinstance(v, str) else v)
        return self.valid_from

    @property
    def title(self) -> str:
        f = self.fields
        return str(
            f.get("summary")
            or f.get("title")
            or f.get("name")
            or f.get("caption")
            or f.get("label")
            or self.id
        )

    def public(self) -> dict[str, Any]:
        """The JSON shape shown by the CLI and API (never the secret value)."""
        return {
            "id": self.id,
            "type": self.type,
            "fields": self.fields,
            "text": render_text(self.type, self.fields),
            "occurred_at": self.occurred_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "superseded_by": self.superseded_by,
            "sources": [s.model_dump() for s in self.sources],
            "trust": self.trust,
            "batch_id": self.batch_id,
            "has_secret": self.has_secret,
            "app": self.app,
        }


def render_text(mtype: str, f: dict[str, Any]) -> str:
    """The text that is indexed (FTS) and embedded. Never includes a vault secret."""
    if mtype == "core":
        return f"{f.get('label', '')}: {f.get('value', '')}"
    if mtype == "episodic":
        parts = [f.get("summary", ""), f.get("details", "")]
    elif mtype == "semantic":
        parts = [f.get("name", ""), f.get("summary", ""), f.get("details", "")]
    elif mtype == "procedural":
        steps = f.get("steps") or []
        parts = [f.get("summary", ""), *[f"{i + 1}. {s}" for i, s in enumerate(steps)]]
    elif mtype == "resource":
        parts = [f.get("title", ""), f.get("summary", ""), f.get("content", "")]
    else:
        parts = [f.get("caption", ""), f.get("entry_type", ""), f.get("source", "")]
    tree = f.get("tree_path") or []
    if tree:
        parts.append(" / ".join(tree))
    return "\n".join(p for p in parts if p)
