"""The SQLCipher ledger: the one source of truth, encrypted as a whole.

All writes run on one writer thread (``Ledger.write``), so transactions never interleave
and callers on any thread (UI, capture, agents) just wait on a future. Reads use a
connection per thread; WAL mode lets them run beside the writer.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from sqlcipher3 import dbapi2 as sqlcipher

from engram.core.memory.migrations import migrate

T = TypeVar("T")
DatabaseError = sqlcipher.DatabaseError
CACHE_KIB = 65536  # page cache per connection; it grows only as pages are read


class LedgerError(Exception):
    """The ledger cannot be opened (wrong key, damaged file) or written."""


def connect(path: Path, key: bytes, *, timeout: float = 15.0) -> Any:
    """Open the ledger with a raw 256-bit key (no PBKDF: the key is random already)."""
    db = sqlcipher.connect(
        str(path), timeout=timeout, isolation_level=None, check_same_thread=False
    )
    db.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is reported by us, once
    db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    db.execute("PRAGMA cipher_memory_security = OFF")
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DatabaseError as exc:
        db.close()
        raise LedgerError(
            f"cannot open {path}: wrong key or not an Engram ledger ({exc}); nothing was changed"
        ) from None
    db.execute("PRAGMA temp_store = MEMORY")  # no plaintext temp files
    # every page read from disk is decrypted and HMAC-checked; the default 2 MB cache made
    # a search at 10k memories decrypt the same FTS and row pages again each time (bench/scale.py)
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    db.execute("PRAGMA secure_delete = ON")  # forgotten rows are zeroed, not left in free pages
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return db


class Ledger:
    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key
        self._local = threading.local()
        self._conns: list[Any] = []
        self._conns_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[Callable[[Any], Any], Future, bool] | None] = (
            queue.SimpleQueue()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        wdb = connect(path, key)
        if new:
            os.chmod(path, 0o600)
        wdb.execute("PRAGMA journal_mode = WAL")
        wdb.execute("PRAGMA synchronous = NORMAL")
        self.applied_migrations = migrate(wdb)
        self._wdb = wdb
        self._writer = threading.Thread(target=self._run_writer, name="engram-writer", daemon=True)
        self._writer.start()

    # -- writing -------------------------------------------------------------------------
    def _run_writer(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                break
            fn, fut, in_tx = job
            if not fut.set_running_or_notify_cancel():
                continue
            if not in_tx:
                try:
                    fut.set_result(fn(self._wdb))
                except BaseException as exc:
                    fut.set_exception(exc)
                continue
            try:
                self._wdb.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(self._wdb)
                    self._wdb.execute("COMMIT")
                except BaseException:
                    # SQLite has already rolled back after SQLITE_FULL/IOERR; a second
                    # ROLLBACK would hide the real error behind "no transaction is active"
                    if self._wdb.in_transaction:
                        with contextlib.suppress(DatabaseError):
                            self._wdb.execute("ROLLBACK")
                    raise
                fut.set_result(result)
            except BaseException as exc:
                fut.set_exception(exc)
        self._wdb.close()

    def submit(self, fn: Callable[[Any], T], *, transaction: bool = True) -> Future[T]:
        """Queue ``fn(db)`` to run on the writer thread, in one transaction by default."""
        if not self._writer.is_alive():
            raise LedgerError("the ledger is closed")
        fut: Future[T] = Future()
        self._jobs.put((fn, fut, transaction))
        return fut

    def maintain(self, sql: str) -> None:
        """Run a statement that cannot run in a transaction (VACUUM, checkpoints)."""
        self.submit(lambda db: db.execute(sql), transaction=False).result()

    def write(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(db)`` in one transaction on the writer thread and wait for it."""
        if threading.current_thread() is self._writer:
            return fn(self._wdb)  # nested call from inside a write job
        return self.submit(fn).result()

    # -- reading -------------------------------------------------------------------------
    def reader(self) -> Any:
        """This thread's read connection."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, self._key)
            self._local.db = db
            with self._conns_lock:
                self._conns.append(db)
        return db

    def query(self, sql: str, params: tuple | list | dict = ()) -> list[tuple]:
        return self.reader().execute(sql, params).fetchall()

    def query_in(
        self, sql: str, ids: Sequence[Any], params: Sequence[Any] = (), chunk: int = 500
    ) -> list[tuple]:
        """``sql`` with ``{}`` standing for an ``IN`` list, run over ``ids`` ``chunk`` at a
        time (SQLite caps bound parameters); ``params`` follow the ids in each run."""
        ids = list(ids)
        out: list[tuple] = []
        for i in range(0, len(ids), chunk):
            part = ids[i : i + chunk]
            out += self.query(sql.format(",".join("?" * len(part))), [*part, *params])
        return out

    def scalar(self, sql: str, params: tuple | list | dict = ()) -> Any:
        row = self.reader().execute(sql, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        if self._writer.is_alive():
            self._jobs.put(None)
            self._writer.join(timeout=30)
        with self._conns_lock:
            for db in self._conns:
                with contextlib.suppress(Exception):
                    db.close()
            self._conns.clear()
