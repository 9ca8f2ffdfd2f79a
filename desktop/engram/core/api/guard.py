"""Who may talk to the local API: loopback only, the right Host, no foreign Origin, the token.

- Bind: only a loopback address; anything else is refused before a socket is opened, even if
  configured, because the API hands out personal memories.
- Host header: must name a loopback host. A web page can make its own DNS name resolve to
  127.0.0.1 (DNS rebinding); its requests then carry that name as Host and are refused.
- Origin: a browser page on any other origin is refused, whatever the token.
- Token: ``Authorization: Bearer <token>``, compared in constant time. A rejected request
  gets a bare 401; the body never says whether a token was missing, malformed or wrong.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})
RELOAD_INTERVAL = 2.0  # seconds between re-reads of the token after a mismatch


class NonLoopbackHost(ValueError):
    """A bind address that is not loopback: the API is never exposed to the network."""


def is_loopback(host: str) -> bool:
    """Whether a host name or address (brackets allowed) is loopback."""
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if h in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def bind_host(host: str | None) -> str:
    """The address to bind: loopback or a NonLoopbackHost error naming the setting."""
    h = (host or "127.0.0.1").strip()
    if not is_loopback(h):
        raise NonLoopbackHost(
            f"refusing to serve the Engram API on {h!r}: it only listens on loopback "
            "(127.0.0.1 or ::1), because it gives access to your memories"
        )
    return "127.0.0.1" if h.lower().startswith(("localhost", "ip6-localhost")) else h.strip("[]")


def host_header_ok(value: str | None) -> bool:
    if not value:
        return False
    v = value.strip()
    if v.startswith("["):
        host = v[: v.find("]") + 1] if "]" in v else v
    else:
        host = v.rsplit(":", 1)[0] if v.count(":") == 1 else v
    return is_loopback(host)


def origin_ok(value: str | None) -> bool:
    """No Origin (not a browser, or same-origin GET) is fine; else it must be loopback."""
    if value is None:
        return True
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and is_loopback(parts.hostname or "")
    )


class TokenCheck:
    """Constant-time check against the stored token, re-read (rate-limited) on a mismatch,
    so a rotated token takes effect in running servers."""

    def __init__(self, load: Callable[[], str]) -> None:
        self._load = load
        self._token = load().encode()
        self._last_reload = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, presented: str | None) -> bool:
        if not presented:
            return False
        given = presented.encode("utf-8", "surrogateescape")
        if hmac.compare_digest(given, self._token):
            return True
        with self._lock:
            now = time.monotonic()
            if now - self._last_reload < RELOAD_INTERVAL:
                return False
            self._last_reload = now
            try:
                self._token = self._load().encode()
            except Exception:  # keyring hiccup: keep the token we have
                log.warning("could not re-read the API token", exc_info=True)
        return hmac.compare_digest(given, self._token)


def bearer(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"authorization")
    if not raw:
        return None
    scheme, _, value = raw.decode("latin-1").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _deny(send: Send, status: int, error: str, extra: list | None = None) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: loopback Host, loopback Origin, then the bearer token.

    ``public`` paths (the OpenAPI document) skip only the token, never the Host/Origin checks.
    """

    def __init__(
        self,
        app: ASGIApp,
        check: Callable[[str | None], bool],
        public: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.check = check
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if not host_header_ok(host):
            await _deny(send, 421, "host not allowed")
            return
        origin = headers.get(b"origin")
        if not origin_ok(origin.decode("latin-1") if origin is not None else None):
            await _deny(send, 403, "origin not allowed")
            return
        if scope.get("path") not in self.public and not self.check(bearer(headers)):
            await _deny(send, 401, "unauthorized", [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)
