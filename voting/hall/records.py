"""The hall's append-only, hash-chained event log in SQLite.

The log *is* the state: the hall rebuilds its sitting by replaying it
(``voting.hall.sitting.replay``). Each row carries the link hash of
``voting.hall.audit`` over the previous row's hash and this event's canonical
JSON; triggers refuse UPDATE and DELETE, and ``hromada voting verify``
recomputes the chain and names the first row that no longer fits (someone
who edits the file with the triggers dropped is caught there).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from voting.hall.audit import GENESIS, canonical_json, first_broken_link, link_hash

MIGRATIONS = {
    "hall": [
        """
        CREATE TABLE hall_events (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            body TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TRIGGER hall_events_append_only_update BEFORE UPDATE ON hall_events
        BEGIN SELECT RAISE(ABORT, 'hall_events is append-only'); END;
        CREATE TRIGGER hall_events_append_only_delete BEFORE DELETE ON hall_events
        BEGIN SELECT RAISE(ABORT, 'hall_events is append-only'); END;
        CREATE TABLE hall_kv (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    ]
}


def last_hash(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT hash FROM hall_events ORDER BY seq DESC LIMIT 1").fetchone()
    return row[0] if row else GENESIS


def append(conn: sqlite3.Connection, prev_hash: str, events: list[dict[str, Any]]) -> str:
    """Append events (inside the caller's transaction); return the new last hash."""
    for event in events:
        prev_hash = link_hash(prev_hash, event)
        conn.execute(
            "INSERT INTO hall_events (kind, at, body, hash) VALUES (?, ?, ?, ?)",
            (event["kind"], event["at"], canonical_json(event), prev_hash),
        )
    return prev_hash


def current_sitting(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The events of the latest sitting (from its ``sitting_started`` on)."""
    row = conn.execute("SELECT max(seq) FROM hall_events WHERE kind = 'sitting_started'").fetchone()
    if row[0] is None:
        return []
    return [json.loads(r[0]) for r in conn.execute("SELECT body FROM hall_events WHERE seq >= ? ORDER BY seq",
                                                   (row[0],))]


def last_vote_ordinal(conn: sqlite3.Connection, day: str) -> int:
    """The highest ``n`` of the vote uids ``<day>-<n>`` this hall has used in any sitting (0: none)."""
    rows = conn.execute(
        "SELECT json_extract(body, '$.vote_uid') FROM hall_events WHERE kind = 'vote_prepared'"
        " AND json_extract(body, '$.vote_uid') LIKE ?", (f"{day}-%",)).fetchall()
    return max((vote_ordinal(uid, day) for (uid,) in rows), default=0)


def vote_ordinal(uid: str, day: str) -> int:
    """``n`` of a vote uid ``<day>-<n>``; 0 for a uid of another day or form."""
    tail = uid[len(day) + 1:] if uid.startswith(day + "-") else ""
    return int(tail) if tail.isdigit() else 0


def get_kv(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value FROM hall_kv WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def put_kv(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute("INSERT INTO hall_kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, json.dumps(value, ensure_ascii=False)))


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``verify`` found: how many rows, and the first broken one (seq) if any."""

    rows: int
    first_broken_seq: int | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


def verify(conn: sqlite3.Connection) -> Verification:
    """Recompute the chain over every row; name the first that does not fit."""
    rows = conn.execute("SELECT seq, body, hash FROM hall_events ORDER BY seq").fetchall()
    records: list[tuple[dict[str, Any], str]] = []
    seqs: list[int] = []
    expected_seq = None
    for seq, body, stored in rows:
        if expected_seq is not None and seq != expected_seq:
            return Verification(len(rows), expected_seq, f"row {expected_seq} is missing")
        expected_seq = seq + 1
        try:
            event = json.loads(body)
        except ValueError:
            return Verification(len(rows), seq, "body is not JSON")
        records.append((event, stored))
        seqs.append(seq)
    broken = first_broken_link(records)
    if broken is None:
        return Verification(len(rows), None)
    return Verification(len(rows), seqs[broken], "hash does not match the chain")
