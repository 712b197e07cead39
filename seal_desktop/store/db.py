"""SQLite connection with WAL, foreign keys, transactions and numbered migrations.

Why hand-written migrations: the schema is small and a list of SQL scripts keyed
by version (stored in `PRAGMA user_version`) is all that is needed; an ORM or a
migration framework would cost start-up time and a dependency.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Iterator, Optional

MIGRATIONS: list[str] = [
    # 1: characters, concepts, jobs, results
    """
    CREATE TABLE characters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        class_word TEXT NOT NULL DEFAULT 'character',
        notes TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '',
        folder TEXT NOT NULL UNIQUE,
        reference TEXT NOT NULL,
        mask TEXT,
        mask_method TEXT NOT NULL DEFAULT '',
        mask_note TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE concepts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        character_id INTEGER NOT NULL REFERENCES characters(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        base_model TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        character_id INTEGER REFERENCES characters(id) ON DELETE SET NULL,
        character_name TEXT NOT NULL DEFAULT '',
        preset TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        position REAL NOT NULL,
        phase TEXT NOT NULL DEFAULT '',
        progress REAL NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        error_kind TEXT NOT NULL DEFAULT '',
        error_message TEXT NOT NULL DEFAULT '',
        traceback TEXT NOT NULL DEFAULT '',
        output_dir TEXT NOT NULL DEFAULT '',
        retry_of INTEGER,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX jobs_status ON jobs(status, position);
    CREATE TABLE results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        item_index INTEGER NOT NULL,
        variant INTEGER NOT NULL DEFAULT 0,
        label TEXT NOT NULL,
        emoji TEXT NOT NULL DEFAULT '',
        prompt TEXT NOT NULL DEFAULT '',
        seed INTEGER NOT NULL,
        raw_path TEXT NOT NULL,
        finished_path TEXT NOT NULL,
        kept INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL
    );
    CREATE INDEX results_job ON results(job_id, item_index, variant);
    """,
    # 2: finishing settings per job (adjustable after the run)
    """
    ALTER TABLE jobs ADD COLUMN finishing TEXT NOT NULL DEFAULT '{}';
    """,
    # 3: earlier versions of a regenerated sticker (newest last), so Regenerate can be undone
    """
    ALTER TABLE results ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
    """,
    # 4: the character's training caption, as the user edited it ('' = automatic)
    """
    ALTER TABLE characters ADD COLUMN caption TEXT NOT NULL DEFAULT '';
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One connection per thread (sqlite3 objects must not cross threads)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.migrate()

    @property
    def conn(self) -> sqlite3.Connection:
        conn: Optional[sqlite3.Connection] = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple = ()) -> Optional[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchone()

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            from seal_engine.errors import InputError

            raise InputError(f"The library at {self.path} was written by a newer version of the app "
                             f"(schema {current}); update the app to open it.")
        for number in range(current, SCHEMA_VERSION):
            with self.transaction() as conn:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number + 1}")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def open_database(path: Optional[Path] = None) -> Database:
    if path is None:
        from seal_engine.paths import database_path

        path = database_path()
    return Database(path)
