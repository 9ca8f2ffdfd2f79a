"""Request and response shapes of the HTTP API, and the OpenAPI 3.1 document built from them.

The models validate requests (so a bad argument is a 422 naming the field) and the spec is
generated from the same models, so the two cannot drift; docs/api/openapi.json is this
document as checked in (a test compares them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from engram import __version__
from engram.core.api import exposure
from engram.core.memory.models import FIELDS

DEFAULT_SERVER = "http://127.0.0.1:8765"
MemoryTypeName = Literal[
    "core", "episodic", "semantic", "procedural", "resource", "knowledge_vault"
]


class SearchParams(BaseModel):
    query: str = Field(min_length=1, max_length=exposure.MAX_QUERY, description="what to find")
    k: int = Field(10, ge=1, le=exposure.MAX_K, description="how many results")
    type: MemoryTypeName | None = Field(None, description="only this memory type")
    since: str | None = Field(None, max_length=200, description="ISO 8601 or 'yesterday'")
    until: str | None = Field(None, max_length=200, description="ISO 8601 or 'last week'")


class TimelineParams(BaseModel):
    start: str = Field(min_length=1, max_length=200, description="ISO 8601 or a phrase")
    end: str = Field(min_length=1, max_length=200, description="ISO 8601 or a phrase")
    app: str | None = Field(None, max_length=256, description="only this application")
    limit: int = Field(200, ge=1, le=exposure.MAX_TIMELINE)


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=exposure.MAX_QUESTION)


class AddBody(BaseModel):
    """A memory to add as the user; a vault ``secret_value`` is stored, never returned."""

    model_config = ConfigDict(extra="forbid")
    type: MemoryTypeName
    fields: dict[str, Any] = Field(description="the type's fields (see the README)")


class SourceOut(BaseModel):
    kind: Literal["capture", "chat", "user"]
    ref: str


class SearchResult(BaseModel):
    id: str
    type: MemoryTypeName
    score: float
    text: str
    occurred_at: str
    sources: list[SourceOut]


class SearchResponse(BaseModel):
    results: list[SearchResult]


class MemoryOut(BaseModel):
    id: str
    type: MemoryTypeName
    fields: dict[str, Any]
    text: str
    occurred_at: str
    created_at: str
    updated_at: str
    valid_from: str
    valid_until: str | None
    superseded_by: str | None
    sources: list[SourceOut]
    trust: Literal["screen", "chat", "user"]
    batch_id: str | None
    has_secret: bool


class AskResponse(BaseModel):
    answer: str
    memories: list[SearchResult]
    citations: list[str]
    generated: bool


class TimelineResponse(BaseModel):
    memories: list[MemoryOut]
    truncated: bool


class CoreBlock(BaseModel):
    label: Literal["human", "persona"]
    value: str
    limit: int | None
    id: str | None
    updated_at: str | None


class Error(BaseModel):
    error: str


class FieldProblem(BaseModel):
    field: str
    message: str


class InvalidRequest(BaseModel):
    error: str
    fields: list[FieldProblem]


MODELS: tuple[type[BaseModel], ...] = (
    AskBody,
    AddBody,
    SourceOut,
    SearchResult,
    SearchResponse,
    MemoryOut,
    AskResponse,
    TimelineResponse,
    CoreBlock,
    Error,
    FieldProblem,
    InvalidRequest,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        prop.pop("title", None)
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if branches:  # an optional parameter: absent, never null, in a query string
            prop.update(branches[0])
        if prop.get("default") is None:
            prop.pop("default", None)
        out.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": prop.pop("description", ""),
                "schema": prop,
            }
        )
    return out


_GUARDED = {
    "401": _json(Error, "no token, or a wrong one"),
    "403": _json(Error, "a browser Origin that is not loopback"),
    "421": _json(Error, "a Host header that is not a loopback name"),
}
_INVALID = {"422": _json(InvalidRequest, "invalid arguments; `fields` names each one")}
_BODY = {
    "400": _json(Error, "the body is not JSON"),
    "413": _json(Error, "the body is too large"),
}


def _op(op_id: str, summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    responses = {**ok, **_GUARDED, **extra.pop("responses", {})}
    return {"operationId": op_id, "summary": summary, "responses": responses, **extra}


def _add_body_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """AddBody as one variant per memory type, each with that type's field schema."""
    variants = []
    for mtype, model in FIELDS.items():
        name = model.__name__
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[name] = schema
        variants.append(
            {
                "type": "object",
                "properties": {
                    "type": {"const": mtype},
                    "fields": {"$ref": f"#/components/schemas/{name}"},
                },
                "required": ["type", "fields"],
                "additionalProperties": False,
            }
        )
    return {"title": "AddBody", "description": AddBody.__doc__, "oneOf": variants}


def build_spec(server_url: str = DEFAULT_SERVER) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the /v1 API (``server_url``: where it is served)."""
    _, defs = models_json_schema(
        [(m, "validation") for m in MODELS], ref_template="#/components/schemas/{model}"
    )
    schemas = dict(defs["$defs"])
    schemas["AddBody"] = _add_body_schema(schemas)
    paths = {
        "/v1/search": {
            "get": _op(
                "search_memory",
                "Hybrid search over memories (hidden vault items left out)",
                {"200": _json(SearchResponse, "ranked results, best first")},
                parameters=_query_params(SearchParams),
                responses=_INVALID,
            )
        },
        "/v1/ask": {
            "post": _op(
                "ask",
                "Answer a question from memories, with citations",
                {"200": _json(AskResponse, "the answer")},
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _ref(AskBody)}},
                },
                responses={**_INVALID, **_BODY},
            )
        },
        "/v1/timeline": {
            "get": _op(
                "timeline",
                "Episodic memories between start and end, oldest first",
                {"200": _json(TimelineResponse, "the events")},
                parameters=_query_params(TimelineParams),
                responses=_INVALID,
            )
        },
        "/v1/memories": {
            "post": _op(
                "add_memory",
                "Add a memory as the user (trust user, source api:<time>)",
                {"201": _json(MemoryOut, "the new memory (never a secret value)")},
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _ref(AddBody)}},
                },
                responses={**_INVALID, **_BODY},
            )
        },
        "/v1/memories/{id}": {
            "get": _op(
                "get_memory",
                "One memory by id (any version)",
                {"200": _json(MemoryOut, "the memory")},
                parameters=[
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                    }
                ],
                responses={"404": _json(Error, "no such memory, or a hidden one")},
            )
        },
        "/v1/core/{label}": {
            "get": _op(
                "core_block",
                "A core memory block",
                {"200": _json(CoreBlock, "the block (empty value if never written)")},
                parameters=[
                    {
                        "name": "label",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(exposure.CORE_LABELS)},
                    }
                ],
                responses={"404": _json(Error, "no such block")},
            )
        },
        "/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document (no token needed; it holds no data)",
                "security": [],
                "responses": {
                    "200": {
                        "description": "the OpenAPI document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "403": _GUARDED["403"],
                    "421": _GUARDED["421"],
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Engram local API",
            "version": __version__,
            "description": (
                "The user's Engram memory for local scripts and tools. Listens on loopback "
                "only; every call but this document needs `Authorization: Bearer <token>` "
                "(`engram token`). Knowledge Vault secret values are never returned and "
                "high-sensitivity vault items are not shown."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


if __name__ == "__main__":  # python -m engram.core.api.openapi > docs/api/openapi.json
    import json
    import sys

    sys.stdout.write(json.dumps(build_spec(), indent=2, ensure_ascii=False) + "\n")
