"""Keyring backends for tests, selected with PYTHON_KEYRING_BACKEND.

MemoryKeyring lives in one process; FileKeyring persists under $HOME so that CLI
subprocesses of one test share a key. Both are test-only: never used by the app.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

_MEMORY: dict[tuple[str, str], str] = {}


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return _MEMORY.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        _MEMORY[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if _MEMORY.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @staticmethod
    def _path() -> Path:
        return Path(os.environ["HOME"]) / ".test-keyring.json"

    def _load(self) -> dict[str, str]:
        p = self._path()
        return json.loads(p.read_text()) if p.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\n{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\n{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path().write_text(json.dumps(data))


def clear_memory() -> None:
    _MEMORY.clear()
