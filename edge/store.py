"""One SQLite file per node, through the standard ``sqlite3`` module, with versioned migrations.

SQLite is opened in WAL mode with ``synchronous=FULL`` by default: a vote, a
ticket or an alarm is on disk before anyone is told it happened. All access
goes through one writer thread (:meth:`Store.run`), so the asyncio loop never
blocks on an fsync and there is exactly one writer, as WAL wants.

Each component (the node runtime, the outbox, a role) owns a list of
migration steps; step *n* of component *c* runs once, in a transaction,
recorded in ``schema_migrations``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

T = TypeVar("T")

Migrations = Mapping[str, Sequence[str]]


def connect(path: Path | str, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open a database the way every part of the project does.

    Autocommit mode (``isolation_level=None``): a write that must be atomic
    goes through :func:`transaction`, never through sqlite3's implicit BEGIN.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    # So that a journal's append-only DELETE trigger also fires for a row an INSERT OR REPLACE would drop.
    conn.execute("PRAGMA recursive_triggers=ON")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(db: sqlite3.Connection, migrations: Migrations) -> list[tuple[str, int]]:
    """Apply the steps not yet applied; return (component, version) of each one run."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL"
        " DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), PRIMARY KEY (component, version))"
    )
    applied: list[tuple[str, int]] = []
    for component, steps in migrations.items():
        done = {
            row[0]
            for row in db.execute("SELECT version FROM schema_migrations WHERE component = ?", (component,))
        }
        for version, sql in enumerate(steps, start=1):
            if version in done:
                continue
            with transaction(db) as conn:
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (component, version) VALUES (?, ?)", (component, version)
                )
            applied.append((component, version))
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` knows about strings and triggers)."""
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


class Store:
    """The node's database behind its single writer thread."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sqlite-{path.stem}")
        self._db: sqlite3.Connection | None = None
        self._thread_id: int | None = None

    @classmethod
    async def open(cls, path: Path, migrations: Migrations, synchronous: str = "FULL") -> "Store":
        store = cls(path, synchronous)
        await store._call(store._open_in_thread, migrations)
        return store

    def _open_in_thread(self, migrations: Migrations) -> None:
        self._thread_id = threading.get_ident()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = connect(self.path, self._synchronous)
        migrate(self._db, migrations)

    async def migrate(self, migrations: Migrations) -> list[tuple[str, int]]:
        """Apply further components' migrations (a role adds its own at start)."""
        return await self.run(lambda db: migrate(db, migrations))

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(db)`` with the connection, in the writer thread, and return its result."""
        if self._db is None:
            raise RuntimeError("store is closed")
        db = self._db
        return await self._call(fn, db)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside one immediate transaction in the writer thread."""
        def in_tx(db: sqlite3.Connection) -> T:
            with transaction(db) as conn:
                return fn(conn)
        return await self.run(in_tx)

    async def ping(self) -> None:
        """Prove the writer thread and the file answer (for the watchdog)."""
        await self.run(lambda db: db.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(Exception):
                await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=True)
