"""Engram as an MCP server (the official ``mcp`` SDK): stdio, or streamable HTTP on loopback.

Tools mirror the HTTP API and go through ``exposure`` (no vault secret, no high-sensitivity
vault item, writes marked as the user's). Core memory blocks are resources
(``engram://core/human``, ``engram://core/persona``). Over HTTP the SDK's app is wrapped by
``guard.Guard`` (loopback Host/Origin, bearer token); stdio needs no token, since the client
started the process as the user.

Run directly (tests, or until the CLI wires it): ``python -m engram.core.api.mcp_server
[--http] [--port N]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import Field
from starlette.types import ASGIApp

from engram import __version__
from engram.core.api import exposure
from engram.core.memory.models import MemoryValidationError
from engram.core.memory.store import NotFound

MemoryTypeArg = Literal["core", "episodic", "semantic", "procedural", "resource", "knowledge_vault"]
INSTRUCTIONS = (
    "Engram is the user's personal memory: what they saw on screen and said in chats, as "
    "typed memories (episodic events, semantic facts, procedures, resources, core profile, "
    "knowledge vault captions). Search it before answering questions about the user's past; "
    "cite memory ids. Secret values are never available here."
)
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
_LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def _call(fn: Any, *args: Any, **kw: Any) -> Any:
    """Run an exposure call; expected failures become a ToolError the model can read."""
    try:
        return fn(*args, **kw)
    except exposure.InvalidInput as exc:
        raise ToolError(f"invalid arguments: {exc}") from None
    except NotFound as exc:
        raise ToolError(f"not found: {exc.args[0] if exc.args else exc}") from None
    except MemoryValidationError as exc:
        raise ToolError(str(exc)) from None


def build_mcp(svc: Any) -> MCPServer:
    """The MCP server over one open EngramService."""
    mcp: MCPServer = MCPServer(
        "engram", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    @mcp.tool(annotations=READ)
    def search_memory(
        query: Annotated[str, Field(min_length=1, max_length=exposure.MAX_QUERY)],
        k: Annotated[int, Field(ge=1, le=exposure.MAX_K)] = 10,
        type: MemoryTypeArg | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """Search the user's memories (hybrid full-text + meaning + recency).

        since/until take ISO 8601 or phrases like 'yesterday'; a time phrase in the query
        itself also filters. Returns {"results": [{id, type, score, text, occurred_at,
        sources}]}, best first.
        """
        return {
            "results": _call(exposure.search, svc, query, k=k, type=type, since=since, until=until)
        }

    @mcp.tool(annotations=READ)
    def ask(
        question: Annotated[str, Field(min_length=1, max_length=exposure.MAX_QUESTION)],
    ) -> dict[str, Any]:
        """Answer a question from the user's memories, citing memory ids.

        Returns {"answer", "memories", "citations", "generated"}; generated is false when
        the answer was extracted from memories (no language model configured).
        """
        return _call(exposure.ask, svc, question)

    @mcp.tool(annotations=READ)
    def timeline(
        start: str,
        end: str,
        app: str | None = None,
        limit: Annotated[int, Field(ge=1, le=exposure.MAX_TIMELINE)] = 200,
    ) -> dict[str, Any]:
        """What happened between start and end (ISO 8601 or phrases), oldest first;
        optionally only in one app. Returns {"memories": [...], "truncated": bool}."""
        return _call(exposure.timeline, svc, start, end, app=app, limit=limit)

    @mcp.tool(annotations=READ)
    def get_memory(id: Annotated[str, Field(min_length=1, max_length=64)]) -> dict[str, Any]:
        """One memory by id (e.g. from search results), with all its fields and sources."""
        return _call(exposure.get_memory, svc, id)

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False
        )
    )
    def add_memory(type: MemoryTypeArg, fields: dict[str, Any]) -> dict[str, Any]:
        """Remember something for the user (stored as the user's own statement).

        fields by type: episodic {summary, event_type?, details?, occurred_at?, actor?};
        semantic {name, summary, details?}; procedural {summary, steps[], entry_type?};
        resource {title, summary?, content?, resource_type?}; core {label: human|persona,
        value}; knowledge_vault {caption, entry_type?, sensitivity?, secret_value?} (a
        secret is stored but never returned). Returns the new memory with its id.
        """
        return _call(exposure.add_memory, svc, type, fields, "mcp")

    for label in exposure.CORE_LABELS:
        _core_resource(mcp, svc, label)
    return mcp


def _core_resource(mcp: MCPServer, svc: Any, label: str) -> None:
    def read() -> str:
        try:
            return str(exposure.core_block(svc, label)["value"])
        except NotFound as exc:
            raise ResourceError(str(exc)) from None

    read.__name__ = f"core_{label}"
    what = "the user" if label == "human" else "how the assistant should behave for the user"
    mcp.resource(
        f"engram://core/{label}",
        name=f"core-{label}",
        description=f"Core memory block '{label}': what Engram always keeps about {what}.",
        mime_type="text/plain",
    )(read)


def streamable_app(mcp: MCPServer) -> Any:
    """The SDK's streamable HTTP app (endpoint ``/mcp``, its own loopback Host check too)."""
    return mcp.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=_LOOPBACK_HOSTS,
            allowed_origins=_LOOPBACK_ORIGINS,
        ),
    )


def mcp_http_app(mcp: MCPServer, check: Any) -> ASGIApp:
    """MCP over streamable HTTP behind the loopback/token guard."""
    from engram.core.api.guard import Guard

    return Guard(streamable_app(mcp), check)


def run_stdio(svc: Any) -> None:
    """Serve MCP on stdin/stdout until the client closes it."""
    import anyio

    anyio.run(build_mcp(svc).run_stdio_async)


def serve_http(svc: Any, port: int, host: str | None = None) -> Any:
    """Serve MCP over streamable HTTP on loopback in a thread; returns a ServerHandle."""
    from engram.core.api.http import serve_asgi, token_check

    app = mcp_http_app(build_mcp(svc), token_check(svc.paths))
    return serve_asgi(app, port, host, path="/mcp")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="engram-mcp", description="Engram MCP server")
    p.add_argument("--http", action="store_true", help="streamable HTTP on 127.0.0.1 (token)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--host", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print the URL as JSON (--http)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from engram.core.api.cli import run_mcp

    return run_mcp(args)


if __name__ == "__main__":
    sys.exit(main())
