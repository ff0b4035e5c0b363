"""The queue's durable record in SQLite: the event log, day snapshots, ratings.

The log *is* the state: the role rebuilds its queue from the latest day
snapshot (written in the same transaction as the rollover that made it) and
the events after it (:func:`load`). Triggers refuse UPDATE and DELETE of
events. Each row carries the queue day it belongs to (a rollover belongs
to the day it closes), the ticket it concerns and, for a ticket a kiosk
asked for, the request's origin, unique, so that a resent request is
answered with the ticket it already got instead of a second one.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from typing import Any, Iterable

from kiosk.queue import events as ev
from kiosk.queue.stats import Feedback, Grade

MIGRATIONS = {
    "queue": [
        """
        CREATE TABLE queue_events (
            seq INTEGER PRIMARY KEY,
            day TEXT NOT NULL,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            ticket_id TEXT,
            origin TEXT,
            body TEXT NOT NULL
        );
        CREATE INDEX queue_events_day ON queue_events (day, seq);
        CREATE INDEX queue_events_ticket ON queue_events (ticket_id) WHERE ticket_id IS NOT NULL;
        CREATE UNIQUE INDEX queue_events_origin ON queue_events (origin) WHERE origin IS NOT NULL;
        CREATE TRIGGER queue_events_append_only_update BEFORE UPDATE ON queue_events
        BEGIN SELECT RAISE(ABORT, 'queue_events is append-only'); END;
        CREATE TRIGGER queue_events_append_only_delete BEFORE DELETE ON queue_events
        BEGIN SELECT RAISE(ABORT, 'queue_events is append-only'); END;
        CREATE TABLE queue_snapshots (
            seq INTEGER PRIMARY KEY,
            day TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE queue_feedback (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            day TEXT NOT NULL,
            service_id TEXT NOT NULL,
            window INTEGER,
            ticket_id TEXT UNIQUE,
            grade TEXT,
            loyalty INTEGER,
            source TEXT NOT NULL
        );
        CREATE INDEX queue_feedback_day ON queue_feedback (day);
        CREATE TABLE queue_kv (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    ]
}

#: Kinds of events that concern one ticket (they carry ``ticket_id``).
TICKET_KINDS = frozenset({
    ev.EventKind.TICKET_ISSUED, ev.EventKind.TICKET_CALLED, ev.EventKind.TICKET_RECALLED,
    ev.EventKind.TICKET_NO_SHOW, ev.EventKind.SERVICE_STARTED, ev.EventKind.SERVICE_FINISHED,
    ev.EventKind.TICKET_REDIRECTED,
})


def append(conn: sqlite3.Connection, day: date, events: Iterable[ev.Event], origin: str | None = None) -> int:
    """Append events of ``day`` inside the caller's transaction; return the last seq (0 if none).

    ``origin`` is recorded on the first event (the ticket a request issued).
    """
    last = 0
    for e in events:
        body = e.to_dict()
        cur = conn.execute(
            "INSERT INTO queue_events (day, kind, at, ticket_id, origin, body) VALUES (?, ?, ?, ?, ?, ?)",
            (day.isoformat(), body["kind"], body["at"], body.get("ticket_id"), origin,
             json.dumps(body, ensure_ascii=False, separators=(",", ":"))))
        origin = None
        last = int(cur.lastrowid or 0)
    return last


def put_snapshot(conn: sqlite3.Connection, seq: int, day: date, state: dict[str, Any]) -> None:
    """The queue's state after event ``seq`` (a rollover): replay starts here next time."""
    conn.execute("INSERT INTO queue_snapshots (seq, day, body) VALUES (?, ?, ?)",
                 (seq, day.isoformat(), json.dumps(state, ensure_ascii=False, separators=(",", ":"))))


def load(conn: sqlite3.Connection) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The latest snapshot (or None) and the events after it, oldest first."""
    row = conn.execute("SELECT seq, body FROM queue_snapshots ORDER BY seq DESC LIMIT 1").fetchone()
    after = row[0] if row else 0
    events = [json.loads(r[0]) for r in
              conn.execute("SELECT body FROM queue_events WHERE seq > ? ORDER BY seq", (after,))]
    return (json.loads(row[1]) if row else None), events


def origins(conn: sqlite3.Connection, since: date) -> dict[str, str]:
    """Request origin → ticket id, for tickets of ``since`` and later."""
    rows = conn.execute("SELECT origin, ticket_id FROM queue_events WHERE origin IS NOT NULL AND day >= ?",
                        (since.isoformat(),))
    return {o: t for o, t in rows}


def day_events(conn: sqlite3.Connection, day: date) -> tuple[list[ev.Event], datetime | None, bool]:
    """Events that describe ``day``'s visits, when that day began (its rollover, if any), and whether it ended.

    A ticket carried over from an earlier day is preceded by its own earlier
    events and the rollover that opened ``day``, so the statistics know its
    label and service; visits that ended before the day began, and those the
    closing rollover opened for the next day, are the caller's to drop.
    """
    opening = None
    for seq, body in conn.execute("SELECT seq, body FROM queue_events WHERE kind = 'day_rolled' "
                                  "AND json_extract(body, '$.day') = ? ORDER BY seq DESC LIMIT 1",
                                  (day.isoformat(),)):
        opening = (seq, ev.Event.from_dict(json.loads(body)))
    prefix: list[ev.Event] = []
    if opening is not None:
        seq, rolled = opening
        assert isinstance(rolled, ev.DayRolled)
        carried = list(rolled.carried)
        for i in range(0, len(carried), 500):  # SQLite's limit on parameters
            chunk = carried[i:i + 500]
            marks = ",".join("?" * len(chunk))
            prefix += [ev.Event.from_dict(json.loads(r[0])) for r in conn.execute(
                f"SELECT body FROM queue_events WHERE ticket_id IN ({marks}) AND seq < ? ORDER BY seq",
                (*chunk, seq))]
        prefix.sort(key=lambda e: e.at)
        prefix.append(rolled)
    rows = [ev.Event.from_dict(json.loads(r[0])) for r in
            conn.execute("SELECT body FROM queue_events WHERE day = ? ORDER BY seq", (day.isoformat(),))]
    ended = bool(rows) and isinstance(rows[-1], ev.DayRolled)
    return prefix + rows, (opening[1].at if opening else None), ended


def days(conn: sqlite3.Connection) -> list[str]:
    """Every day the log holds, newest first."""
    return [r[0] for r in conn.execute("SELECT DISTINCT day FROM queue_events ORDER BY day DESC")]


# --- ratings -------------------------------------------------------------------------


def add_feedback(conn: sqlite3.Connection, f: Feedback, day: date, source: str) -> None:
    conn.execute(
        "INSERT INTO queue_feedback (at, day, service_id, window, ticket_id, grade, loyalty, source) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ev.encode(f.at), day.isoformat(), f.service_id, f.window, f.ticket_id,
         None if f.grade is None else f.grade.value, f.loyalty, source))


def feedback(conn: sqlite3.Connection, day: date) -> list[Feedback]:
    rows = conn.execute("SELECT at, service_id, window, ticket_id, grade, loyalty FROM queue_feedback "
                        "WHERE day = ? ORDER BY id", (day.isoformat(),))
    return [Feedback(ev.decode(datetime, at), service, window, ticket, None if grade is None else Grade(grade),
                     loyalty) for at, service, window, ticket, grade, loyalty in rows]


def rated_tickets(conn: sqlite3.Connection, since: date) -> set[str]:
    rows = conn.execute("SELECT ticket_id FROM queue_feedback WHERE ticket_id IS NOT NULL AND day >= ?",
                        (since.isoformat(),))
    return {r[0] for r in rows}


def get_kv(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value FROM queue_kv WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def put_kv(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute("INSERT INTO queue_kv (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, json.dumps(value, ensure_ascii=False)))
