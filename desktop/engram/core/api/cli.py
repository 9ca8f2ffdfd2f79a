"""The ``engram mcp``, ``engram serve`` and ``engram token`` commands.

``register_cli(sub, common)`` adds them to the main parser (engram/cli.py wires it); each
handler takes the parsed args and returns an exit code.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from engram.core.api.guard import NonLoopbackHost, bind_host


def _emit(args: argparse.Namespace, data: dict[str, Any], human: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False), flush=True)
    else:
        print(human, flush=True)


def _fail(args: argparse.Namespace, message: str, code: int = 1) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}), file=sys.stderr)
    print(f"engram: error: {message}", file=sys.stderr)
    return code


def _host(args: argparse.Namespace) -> str:
    import os

    return bind_host(getattr(args, "host", None) or os.environ.get("ENGRAM_API_HOST"))


def _wait_for_signal() -> None:
    """Block until Ctrl-C or SIGTERM."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.5):
        pass


def _serve(args: argparse.Namespace, start: Any, what: str) -> int:
    from engram.core.api.token import TokenUnavailable, location
    from engram.core.service import EngramService

    try:
        host = _host(args)
    except NonLoopbackHost as exc:
        return _fail(args, str(exc), 2)
    with EngramService() as svc:
        port = svc.settings.api_port if args.port is None else args.port
        try:
            handle = start(svc, port, host)
        except (OSError, TokenUnavailable) as exc:
            return _fail(args, str(exc))
        try:
            url = handle.mcp_url or handle.url
            _emit(
                args,
                {"url": handle.url, "mcp_url": handle.mcp_url, "token": location(svc.paths)},
                f"{what} on {url} (token: `engram token`; Ctrl-C stops)",
            )
            _wait_for_signal()
        finally:
            handle.stop()
    return 0


def run_mcp(args: argparse.Namespace) -> int:
    """``engram mcp``: stdio by default; ``--http``: streamable HTTP on loopback."""
    if args.http:
        from engram.core.api.mcp_server import serve_http

        def start(svc: Any, port: int, host: str) -> Any:
            handle = serve_http(svc, port, host)
            handle.mcp_url = handle.url
            return handle

        return _serve(args, start, "Engram MCP (streamable HTTP)")
    from engram.core.api.mcp_server import run_stdio
    from engram.core.service import EngramService

    with EngramService() as svc:
        run_stdio(svc)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """``engram serve``: the /v1 HTTP API and MCP at /mcp on one loopback port."""
    from engram.core.api.http import start_api_server

    return _serve(
        args,
        lambda svc, port, host: start_api_server(svc, port, host),
        "Engram API",
    )


def run_token(args: argparse.Namespace) -> int:
    """``engram token [--rotate]``: print the API token (a new one with --rotate)."""
    from engram.core.api.token import TokenUnavailable, get_token, location, rotate_token
    from engram.core.config import Paths

    paths = Paths()
    try:
        token = rotate_token(paths) if args.rotate else get_token(paths)
    except TokenUnavailable as exc:
        return _fail(args, str(exc))
    _emit(args, {"token": token, "stored_in": location(paths), "rotated": bool(args.rotate)}, token)
    return 0


def register_cli(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``mcp``, ``serve`` and ``token`` to the ``engram`` subparsers."""
    m = sub.add_parser(
        "mcp", parents=[common], help="MCP server for other assistants (stdio, or --http)"
    )
    m.add_argument("--http", action="store_true", help="streamable HTTP on 127.0.0.1 (token)")
    m.add_argument("--port", type=int, default=None, help="HTTP port (default: api_port)")
    m.add_argument("--host", default=None, help="loopback address to bind (default 127.0.0.1)")
    m.set_defaults(func=run_mcp)
    s = sub.add_parser("serve", parents=[common], help="local HTTP API (+ MCP at /mcp)")
    s.add_argument("--port", type=int, default=None, help="port (default: api_port, 8765)")
    s.add_argument("--host", default=None, help="loopback address to bind (default 127.0.0.1)")
    s.set_defaults(func=run_serve)
    t = sub.add_parser("token", parents=[common], help="print the API/MCP bearer token")
    t.add_argument("--rotate", action="store_true", help="make a new token (old one stops)")
    t.set_defaults(func=run_token)
