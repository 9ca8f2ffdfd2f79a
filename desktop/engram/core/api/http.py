"""The local HTTP API (Starlette on uvicorn): /v1 endpoints mirroring the MCP tools.

Loopback only, the same bearer token as MCP over HTTP (``guard``), JSON everywhere. The
service calls run in a thread pool: the service is thread-safe for reads and its writes go
through the ledger's writer thread. ``start_api_server`` serves /v1 and MCP (/mcp) on one
port from a thread, for the desktop app and ``engram serve``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from engram.core.api import exposure
from engram.core.api.guard import Guard, TokenCheck, bind_host
from engram.core.api.openapi import AddBody, AskBody, SearchParams, TimelineParams, build_spec
from engram.core.config import Paths
from engram.core.memory.models import MemoryValidationError
from engram.core.memory.store import NotFound

log = logging.getLogger(__name__)
MAX_BODY = 4 * 1024 * 1024
SPEC_PATH = "/v1/openapi.json"


class BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def token_check(paths: Paths) -> TokenCheck:
    from engram.core.api.token import get_token

    return TokenCheck(lambda: get_token(paths))


def _err(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _invalid(problems: list[dict[str, str]]) -> JSONResponse:
    return _err(422, "invalid request", fields=problems)


def _pydantic_problems(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    return [
        {
            "field": ".".join([p for p in [prefix] if p] + [str(x) for x in e["loc"]]) or "body",
            "message": e["msg"],
        }
        for e in exc.errors()
    ]


async def _body(request: Request) -> Any:
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadBody(413, f"the body is over {MAX_BODY} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadBody(400, "the body is not valid JSON") from None


def _params(model: type[BaseModel], request: Request) -> Any:
    return model.model_validate(dict(request.query_params))


Handler = Callable[[Request], Awaitable[Response]]


def _endpoint(fn: Handler) -> Handler:
    """Map expected failures to 4xx JSON; anything else is logged and a bare 500."""

    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ValidationError as exc:
            return _invalid(_pydantic_problems(exc))
        except exposure.InvalidInput as exc:
            return _invalid(exc.public())
        except MemoryValidationError as exc:
            return _invalid([{"field": "fields", "message": str(exc)}])
        except NotFound as exc:
            return _err(404, f"not found: {exc.args[0] if exc.args else exc}")
        except BadBody as exc:
            return _err(exc.status, str(exc))
        except Exception:
            log.exception("API request %s %s failed", request.method, request.url.path)
            return _err(500, "internal error")

    return wrapped


def api_routes(svc: Any) -> list[Route]:
    @_endpoint
    async def search(request: Request) -> Response:
        p = _params(SearchParams, request)
        results = await run_in_threadpool(
            exposure.search, svc, p.query, p.k, p.type, p.since, p.until
        )
        return JSONResponse({"results": results})

    @_endpoint
    async def ask(request: Request) -> Response:
        body = AskBody.model_validate(await _body(request))
        return JSONResponse(await run_in_threadpool(exposure.ask, svc, body.question))

    @_endpoint
    async def timeline(request: Request) -> Response:
        p = _params(TimelineParams, request)
        out = await run_in_threadpool(exposure.timeline, svc, p.start, p.end, p.app, p.limit)
        return JSONResponse(out)

    @_endpoint
    async def get_memory(request: Request) -> Response:
        mid = request.path_params["id"]
        return JSONResponse(await run_in_threadpool(exposure.get_memory, svc, mid))

    @_endpoint
    async def add_memory(request: Request) -> Response:
        body = AddBody.model_validate(await _body(request))
        out = await run_in_threadpool(exposure.add_memory, svc, body.type, body.fields, "api")
        return JSONResponse(out, status_code=201)

    @_endpoint
    async def core(request: Request) -> Response:
        label = request.path_params["label"]
        return JSONResponse(await run_in_threadpool(exposure.core_block, svc, label))

    async def spec(request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse(build_spec(base))

    return [
        Route("/v1/search", search, methods=["GET"]),
        Route("/v1/ask", ask, methods=["POST"]),
        Route("/v1/timeline", timeline, methods=["GET"]),
        Route("/v1/memories", add_memory, methods=["POST"]),
        Route("/v1/memories/{id}", get_memory, methods=["GET"]),
        Route("/v1/core/{label}", core, methods=["GET"]),
        Route(SPEC_PATH, spec, methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    message = {404: "not found", 405: "method not allowed"}.get(status, "error")
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def build_app(svc: Any, check: Callable[[str | None], bool], *, mcp: bool = True) -> ASGIApp:
    """The /v1 API (and MCP at /mcp when ``mcp``) behind the loopback/token guard."""
    routes: list[Any] = api_routes(svc)
    session_manager = None
    if mcp:
        from engram.core.api.mcp_server import build_mcp, streamable_app

        server = build_mcp(svc)
        inner = streamable_app(server)
        routes.extend(inner.routes)
        session_manager = server.session_manager

    @asynccontextmanager
    async def lifespan(_app: Starlette):  # type: ignore[no-untyped-def]
        if session_manager is None:
            yield
        else:
            async with session_manager.run():
                yield

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: _http_error, 405: _http_error},
    )
    return Guard(app, check, public=frozenset({SPEC_PATH}))


@dataclass
class ServerHandle:
    """A server running in a thread: ``url`` is its base, ``stop()`` ends it."""

    url: str
    host: str
    port: int
    mcp_url: str | None = None
    _server: Any = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def serve_asgi(app: ASGIApp, port: int, host: str | None = None, *, path: str = "") -> ServerHandle:
    """Serve an ASGI app on a loopback socket from a daemon thread (uvicorn).

    The socket is bound here, so a busy port or a non-loopback host fails in the caller
    with a clear error, and port 0 picks a free port.
    """
    import uvicorn

    addr = bind_host(host)
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {addr}:{port}: {exc.strerror or exc}") from exc
    real_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="engram-api", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the API server did not start (see the log)")
        time.sleep(0.02)
    shown = f"[{addr}]" if family == socket.AF_INET6 else addr
    base = f"http://{shown}:{real_port}"
    return ServerHandle(base + path, addr, real_port, None, server, thread)


def start_api_server(
    svc: Any, port: int | None = None, host: str | None = None, *, mcp: bool = True
) -> ServerHandle:
    """Serve the /v1 API (and MCP at /mcp) for an open service; port None = settings."""
    port = svc.settings.api_port if port is None else port
    handle = serve_asgi(build_app(svc, token_check(svc.paths), mcp=mcp), port, host)
    if mcp:
        handle.mcp_url = handle.url + "/mcp"
    return handle
