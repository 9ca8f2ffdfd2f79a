"""Schema migrations: named functions applied in order, each recorded once.

Add a migration by appending a function to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Conn = Any  # a sqlcipher3 connection


def m001_initial(db: Conn) -> str:
    return """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE memories (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            lineage TEXT NOT NULL,
            type TEXT NOT NULL,
            fields TEXT NOT NULL,
            secret BLOB,
            text TEXT NOT NULL,
            at REAL NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            valid_from REAL NOT NULL,
            valid_until REAL,
            superseded_by TEXT,
            trust TEXT NOT NULL,
            batch_id TEXT,
            app TEXT
        );
        CREATE INDEX memories_current ON memories(type, superseded_by, at);
        CREATE INDEX memories_at ON memories(at);
        CREATE INDEX memories_lineage ON memories(lineage);
        CREATE INDEX memories_batch ON memories(batch_id);
        CREATE INDEX memories_app ON memories(app);
        CREATE TABLE memory_sources (
            memory_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            PRIMARY KEY (memory_id, kind, ref)
        ) WITHOUT ROWID;
        CREATE INDEX memory_sources_ref ON memory_sources(kind, ref);
        CREATE VIRTUAL TABLE memory_fts USING fts5(
            text, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        CREATE TABLE embeddings (
            memory_id TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE captures (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            uid TEXT NOT NULL UNIQUE,
            at REAL NOT NULL,
            monitor INTEGER NOT NULL DEFAULT 0,
            app TEXT,
            title TEXT,
            url TEXT,
            text TEXT NOT NULL DEFAULT '',
            words TEXT,
            redactions TEXT,
            thumb BLOB,
            width INTEGER,
            height INTEGER,
            origin TEXT NOT NULL DEFAULT 'live',
            status TEXT NOT NULL DEFAULT 'queued',
            batch_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT
        );
        CREATE INDEX captures_status ON captures(status, seq);
        CREATE INDEX captures_at ON captures(at);
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation TEXT NOT NULL,
            ref TEXT NOT NULL,
            speaker TEXT NOT NULL,
            text TEXT NOT NULL,
            at REAL NOT NULL,
            session TEXT,
            status TEXT NOT NULL DEFAULT 'queued',
            batch_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            UNIQUE (conversation, ref)
        );
        CREATE INDEX messages_status ON messages(status, seq);
        CREATE INDEX messages_conv ON messages(conversation, at);
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE token_usage (
            day TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt INTEGER NOT NULL DEFAULT 0,
            completion INTEGER NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, model)
        ) WITHOUT ROWID;
        CREATE TABLE write_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            batch_id TEXT,
            memory_id TEXT NOT NULL,
            op TEXT NOT NULL,
            prev_id TEXT,
            at REAL NOT NULL
        );
        CREATE INDEX write_log_batch ON write_log(batch_id);
        """


def m002_chats(db: Conn) -> str:
    """Chat history of the app (encrypted with the rest of the ledger)."""
    return """
        CREATE TABLE chats (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            messages TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX chats_updated ON chats(updated_at);
        """


def m003_thread_index(db: Conn) -> str:
    """Thread neighbours (search's context step) by tree path and time, not a type scan.

    Without it every top hit of a search read all current episodic rows in its time window
    and parsed their JSON: about a third of a search's CPU at 100k memories.
    """
    return """
        CREATE INDEX memories_thread ON memories(json_extract(fields, '$.tree_path'), at)
            WHERE type = 'episodic' AND superseded_by IS NULL;
        """


# A migration returns an SQL script; it runs inside one transaction with its record.
MIGRATIONS: list[Callable[[Conn], str]] = [m001_initial, m002_chats, m003_thread_index]


def migrate(db: Conn) -> list[str]:
    """Apply pending migrations in one transaction each; return the names applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)"
    )
    done = {r[0] for r in db.execute("SELECT name FROM schema_migrations")}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        script = fn(db)
        try:
            db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n"
                f"INSERT INTO schema_migrations VALUES ('{fn.__name__}', {time.time()});\n"
                "COMMIT;"
            )
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        applied.append(fn.__name__)
    return applied
