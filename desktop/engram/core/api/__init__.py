"""Engram's memory for other tools: an MCP server and a local HTTP API (loopback + token)."""

from __future__ import annotations

from typing import Any


def start_api_server(svc: Any, port: int | None = None, host: str | None = None) -> Any:
    """Serve /v1 and /mcp for an open service in a thread; ``.url``, ``.stop()``."""
    from engram.core.api.http import start_api_server as start

    return start(svc, port, host)


def register_cli(sub: Any, common: Any) -> None:
    """Add the ``mcp``, ``serve`` and ``token`` commands to the engram parser."""
    from engram.core.api.cli import register_cli as register

    register(sub, common)


__all__ = ["register_cli", "start_api_server"]
