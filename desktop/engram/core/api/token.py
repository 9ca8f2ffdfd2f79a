"""The one bearer token for the local HTTP API and MCP over HTTP.

A random 256-bit token, kept in the OS keyring (service ``engram``, user
``api-token:<store_id>``), so that it is as well kept as the data key. Where no keyring
backend exists it sits in ``api-token`` in the data dir, mode 0600: any process running
as the user can read that file, which is no worse than what such a process can already do
(talk to the loopback port as the user), but it is a plaintext credential on disk.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from engram.core.config import Paths
from engram.core.keys import SERVICE, KeyManager, keyring_usable

TOKEN_FILE = "api-token"


class TokenUnavailable(RuntimeError):
    """The token cannot be read or stored (keyring locked, data dir not writable)."""


def store_id(paths: Paths) -> str:
    """The store's id from key.json; creates the store's key first if there is none yet."""
    if not paths.keyfile.exists():
        paths.ensure()
        KeyManager(paths.keyfile).load_or_create()
    try:
        return str(json.loads(paths.keyfile.read_text())["store_id"])
    except (OSError, ValueError, KeyError) as exc:
        raise TokenUnavailable(f"{paths.keyfile} is unreadable: {exc}") from exc


def _user(paths: Paths) -> str:
    return f"api-token:{store_id(paths)}"


def _file(paths: Paths) -> Path:
    return paths.data / TOKEN_FILE


def location(paths: Paths) -> str:
    """Where the token lives: ``keyring`` or the file's path."""
    return "keyring" if keyring_usable()[0] else str(_file(paths))


def _new() -> str:
    return secrets.token_urlsafe(32)  # 32 random bytes = 256 bits


def _write_file(path: Path, token: str, *, exclusive: bool) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        return True
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    os.replace(tmp, path)
    return True


def read_token(paths: Paths) -> str | None:
    """The stored token, or None if none was made yet."""
    if keyring_usable()[0]:
        import keyring

        try:
            return keyring.get_password(SERVICE, _user(paths))
        except Exception as exc:
            raise TokenUnavailable(f"the keyring is locked or unavailable: {exc}") from exc
    path = _file(paths)
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TokenUnavailable(f"cannot read {path}: {exc}") from exc
    return value or None


def get_token(paths: Paths) -> str:
    """The token, made on first use."""
    current = read_token(paths)
    if current:
        return current
    return _store(paths, _new(), first=True)


def rotate_token(paths: Paths) -> str:
    """A fresh token; the old one stops working (running servers re-read it)."""
    return _store(paths, _new(), first=False)


def _store(paths: Paths, token: str, *, first: bool) -> str:
    if keyring_usable()[0]:
        import keyring

        try:
            keyring.set_password(SERVICE, _user(paths), token)
            stored = keyring.get_password(SERVICE, _user(paths))
        except Exception as exc:
            raise TokenUnavailable(f"the keyring is locked or unavailable: {exc}") from exc
        if not stored:
            raise TokenUnavailable("the keyring did not keep the API token")
        return stored
    path = _file(paths)
    try:
        if _write_file(path, token, exclusive=first):
            return token
    except OSError as exc:
        raise TokenUnavailable(f"cannot write {path}: {exc}") from exc
    # another process made the file first: use its token
    return read_token(paths) or token
