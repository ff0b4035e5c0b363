"""Ingest of node messages at the hub: validated, stored exactly once.

Delivery is at-least-once on the wire; ``UNIQUE(node_id, msg_id)`` makes it
exactly-once in the data. A message that can never be valid is rejected by
id (the node stops resending it); the rest of its batch is stored.

Messages of kind ``alert`` open or close a hub alert
(payload: ``key``, ``state`` = raised|cleared, ``severity``, ``message``,
``message_en``), only when first stored, so a resent batch alerts nobody twice.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from edge.hub.alerts import Severity, clear_alert, raise_alert
from edge.timeutil import iso_utc, parse_iso

Handler = Callable[[sqlite3.Connection, str, str, dict[str, Any]], None]

KIND_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
MAX_PAYLOAD_CHARS = 256 * 1024


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    rejected: dict[str, str] = field(default_factory=dict)
    stored_kinds: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def check_message(msg: Any) -> str | None:
    """Why a message cannot be stored, or None."""
    if not isinstance(msg, dict):
        return "message must be an object"
    msg_id = msg.get("msg_id")
    if not isinstance(msg_id, str):
        return "msg_id must be a string"
    try:
        uuid.UUID(msg_id)
    except ValueError:
        return "msg_id must be a UUID"
    kind = msg.get("kind")
    if not isinstance(kind, str) or not KIND_RE.match(kind):
        return "kind must match [a-z][a-z0-9_.-]{0,63}"
    prio = msg.get("priority")
    if not isinstance(prio, int) or isinstance(prio, bool) or not 0 <= prio <= 2:
        return "priority must be 0, 1 or 2"
    created = msg.get("created_at")
    if not isinstance(created, str):
        return "created_at must be an ISO 8601 string"
    try:
        parse_iso(created)
    except ValueError:
        return "created_at must be an ISO 8601 string"
    if not isinstance(msg.get("payload"), dict):
        return "payload must be an object"
    if kind == "alert":
        p = msg["payload"]
        if not isinstance(p.get("key"), str) or p.get("state") not in ("raised", "cleared"):
            return "alert payload needs key and state (raised|cleared)"
        if p["state"] == "raised" and (p.get("severity") not in tuple(Severity) or not isinstance(p.get("message"), str)):
            return "raised alert needs severity (critical|warning|info) and message"
    return None


def store_batch(
    conn: sqlite3.Connection,
    node_id: str,
    site: str,
    messages: list[Any],
    handlers: Mapping[str, Handler] | None = None,
) -> IngestResult:
    """Store a batch inside the caller's transaction.

    ``handlers`` maps a message kind to a function called, in the same
    transaction, for each message of that kind the first time it is stored
    (e.g. voting results become open data).
    """
    handlers = handlers or {}
    result = IngestResult()
    received = iso_utc()
    plain: list[tuple[Any, ...]] = []
    special: list[dict[str, Any]] = []
    for msg in messages:
        reason = check_message(msg)
        if reason is None:
            payload_text = json.dumps(msg["payload"], ensure_ascii=False, separators=(",", ":"))
            if len(payload_text) > MAX_PAYLOAD_CHARS:
                reason = f"payload larger than {MAX_PAYLOAD_CHARS} characters"
        if reason is not None:
            msg_id = msg.get("msg_id") if isinstance(msg, dict) and isinstance(msg.get("msg_id"), str) else "?"
            result.rejected[msg_id[:64]] = reason
            continue
        row = (node_id, msg["msg_id"], msg["kind"], msg["priority"], msg["created_at"], received, payload_text)
        if msg["kind"] == "alert" or msg["kind"] in handlers:
            special.append({"row": row, "msg": msg})
        else:
            plain.append(row)
    sql = (
        "INSERT OR IGNORE INTO events (node_id, msg_id, kind, priority, created_at, received_at, payload)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    if plain:
        before = conn.total_changes
        conn.executemany(sql, plain)
        result.stored += conn.total_changes - before
        result.duplicates += len(plain) - (conn.total_changes - before)
    for item in special:
        cur = conn.execute(sql, item["row"])
        if not cur.rowcount:
            result.duplicates += 1
            continue
        result.stored += 1
        msg = item["msg"]
        if msg["kind"] == "alert":
            _apply_alert(conn, node_id, site, msg)
        handler = handlers.get(msg["kind"])
        if handler is not None:
            handler(conn, node_id, site, msg)
    return result


def _apply_alert(conn: sqlite3.Connection, node_id: str, site: str, msg: dict[str, Any]) -> None:
    p = msg["payload"]
    key = f"{node_id}:{p['key']}"
    if p["state"] == "raised":
        raise_alert(conn, key, p["key"].split(":")[0], Severity(p["severity"]), p["message"],
                    str(p.get("message_en", "")), node_id=node_id, site=site, at=msg["created_at"])
    else:
        clear_alert(conn, key, at=msg["created_at"])
