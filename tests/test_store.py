"""The database every role writes to: a plain sqlite3 connection opened one way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.store import Store

JOURNAL = {"journal": ["""
    CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;
"""]}


async def test_insert_or_replace_cannot_overwrite_a_row_of_an_append_only_journal(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", JOURNAL)
    try:
        await store.write(lambda conn: conn.execute("INSERT INTO events VALUES (1, 'ухвалено')"))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await store.write(lambda conn: conn.execute("INSERT OR REPLACE INTO events VALUES (1, 'не ухвалено')"))
        assert await store.run(lambda db: db.execute("SELECT body FROM events").fetchall()) == [("ухвалено",)]
    finally:
        await store.close()


async def test_a_failed_write_leaves_nothing_of_its_transaction(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", JOURNAL)

    def two_rows_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO events VALUES (1, 'a')")
        conn.execute("INSERT INTO events VALUES (1, 'b')")

    try:
        with pytest.raises(sqlite3.IntegrityError):
            await store.write(two_rows_then_fail)
        assert await store.run(lambda db: db.execute("SELECT count(*) FROM events").fetchone()) == (0,)
    finally:
        await store.close()
