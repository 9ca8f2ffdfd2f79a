"""The data key: a random 256-bit key that opens the ledger.

It lives in the OS keyring (service ``engram``, one entry per store id). Where no keyring
backend exists, the key is wrapped (AES-GCM) under a key derived with scrypt from a
passphrase (``ENGRAM_PASSPHRASE``, or a TTY prompt); only the wrapped form is on disk. A wrong
passphrase fails the GCM tag check: a clear error, never a touched store.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import secrets
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SERVICE = "engram"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


class KeyUnavailable(Exception):
    """The data key cannot be had: wrong passphrase, keyring gone, no way to ask."""


class WrongPassphrase(KeyUnavailable):
    """The passphrase does not unwrap the data key."""


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode())


def keyring_usable() -> tuple[bool, str]:
    """Whether a real keyring backend is present (for doctor and key setup)."""
    try:
        import keyring
        from keyring.backends import fail

        kr = keyring.get_keyring()
        if isinstance(kr, fail.Keyring):
            return (
                False,
                "no keyring backend (install gnome-keyring or KWallet, or use a passphrase)",
            )
        chainer = getattr(kr, "backends", None)
        if chainer is not None and not chainer:
            return False, "no keyring backend"
        return True, f"{type(kr).__module__}.{type(kr).__name__}"
    except Exception as exc:  # keyring raises many things when D-Bus is broken
        return False, f"keyring unavailable: {exc}"


def _scrypt(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(
        passphrase.encode()
    )


def subkey(data_key: bytes, purpose: str) -> bytes:
    """A purpose-bound key derived from the data key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        data_key
    )


def _prompt_passphrase(confirm: bool) -> str | None:
    env = os.environ.get("ENGRAM_PASSPHRASE")
    if env:
        return env
    if not sys.stdin or not sys.stdin.isatty():
        return None
    first = getpass.getpass("Engram passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise KeyUnavailable("the passphrases do not match")
    return first


@dataclass
class KeyManager:
    """Creates or unlocks the data key for one store (its key.json sits in the data dir)."""

    keyfile: Path
    ask_passphrase: Callable[[bool], str | None] = _prompt_passphrase

    def _meta(self) -> dict | None:
        if not self.keyfile.exists():
            return None
        try:
            return json.loads(self.keyfile.read_text())
        except (OSError, ValueError) as exc:
            raise KeyUnavailable(f"{self.keyfile} is damaged: {exc}") from exc

    def _write_meta(self, meta: dict) -> bool:
        """Publish key.json atomically; False if another process published one first."""
        self.keyfile.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.keyfile.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(meta, fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, self.keyfile)  # atomic, and fails if the file exists
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    @property
    def exists(self) -> bool:
        return self.keyfile.exists()

    def source(self) -> str | None:
        meta = self._meta()
        return meta["source"] if meta else None

    def load_or_create(self) -> bytes:
        meta = self._meta()
        if meta is None:
            return self._create()
        if meta["source"] == "keyring":
            return self._from_keyring(meta)
        return self._unwrap(meta)

    def _create(self) -> bytes:
        key = secrets.token_bytes(32)
        store_id = uuid.uuid4().hex
        forced = os.environ.get("ENGRAM_KEY_SOURCE", "").lower()
        ok, _why = keyring_usable()
        if ok and forced != "passphrase" and not os.environ.get("ENGRAM_PASSPHRASE"):
            try:
                import keyring

                keyring.set_password(SERVICE, f"data-key:{store_id}", _b64(key))
                if keyring.get_password(SERVICE, f"data-key:{store_id}") == _b64(key):
                    meta = {"version": 1, "store_id": store_id, "source": "keyring"}
                    if self._write_meta(meta):
                        return key
                    # another process created the store at the same moment: use its key
                    keyring.delete_password(SERVICE, f"data-key:{store_id}")
                    return self.load_or_create()
            except Exception:  # fall through to the passphrase
                pass
        passphrase = self.ask_passphrase(True)
        if not passphrase:
            raise KeyUnavailable(
                "no keyring backend and no passphrase: set ENGRAM_PASSPHRASE, run in a "
                "terminal to be asked, or install a keyring (gnome-keyring, KWallet)"
            )
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        wrapped = AESGCM(_scrypt(passphrase, salt)).encrypt(nonce, key, store_id.encode())
        published = self._write_meta(
            {
                "version": 1,
                "store_id": store_id,
                "source": "passphrase",
                "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
                "salt": _b64(salt),
                "nonce": _b64(nonce),
                "wrapped": _b64(wrapped),
            }
        )
        return key if published else self.load_or_create()

    def _from_keyring(self, meta: dict) -> bytes:
        try:
            import keyring

            value = keyring.get_password(SERVICE, f"data-key:{meta['store_id']}")
        except Exception as exc:
            raise KeyUnavailable(f"the keyring is locked or unavailable: {exc}") from exc
        if value is None:
            raise KeyUnavailable(
                "the data key is not in the keyring (was it cleared, or is this another "
                "user's keyring?); the store cannot be opened without it"
            )
        return _unb64(value)

    def _unwrap(self, meta: dict) -> bytes:
        passphrase = self.ask_passphrase(False)
        if not passphrase:
            raise KeyUnavailable(
                "this store is protected by a passphrase: set ENGRAM_PASSPHRASE or run in a terminal"
            )
        kdf = meta["kdf"]
        kek = Scrypt(
            salt=_unb64(meta["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]
        ).derive(passphrase.encode())
        try:
            return AESGCM(kek).decrypt(
                _unb64(meta["nonce"]), _unb64(meta["wrapped"]), meta["store_id"].encode()
            )
        except InvalidTag:
            raise WrongPassphrase("wrong passphrase: the store was not opened or changed") from None


class SecretBox:
    """AES-GCM for Knowledge Vault secret values, under a subkey of the data key.

    The ledger is already encrypted as a whole; this second layer keeps secret values out
    of FTS, embeddings, exports and query results unless explicitly revealed.
    """

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(subkey(data_key, "engram/vault/v1"))

    def seal(self, plaintext: str, aad: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), aad.encode())

    def open(self, blob: bytes, aad: str) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], aad.encode()).decode()
