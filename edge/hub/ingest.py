"""Ingest of node messages at the hub: validated, stored exactly once.

Delivery is at-least-once on the wire; ``UNIQUE(node_id, msg_id)`` makes it
exactly-once in the data. A message that can never be valid is rejected by
id (the node stops resending it); the rest of its batch is stored.

Messages of kind ``alert`` open or close a hub alert
(payload: ``key``, ``state`` = raised|cleared, ``severity``, ``message``,
``message_en``), only when first stored, so a resent batch alerts nobody twice.

A node may send only the kinds its enrolled roles produce
(:class:`Senders`: the hub core's ``alert`` and ``node.*`` from any role, each
role's kinds from its hub extension): a kiosk's signed ``voting.result`` or a
console's ``power.shutdown`` is refused by id, stored nowhere, and raises a
security alert at the hub for that node.
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


ANY_ROLE: frozenset[str] = frozenset({"*"})


class Senders:
    """Which enrolled roles may send which message kinds.

    A key is a kind (``alert``) or a prefix ending in a dot (``voting.``);
    the longest key that covers a kind decides. A kind no key covers is sent
    by no role and refused.
    """

    def __init__(self, rules: Mapping[str, frozenset[str] | tuple[str, ...]] | None = None) -> None:
        self._rules: dict[str, frozenset[str]] = {"alert": ANY_ROLE, "node.": ANY_ROLE}
        for key, roles in (rules or {}).items():
            self.add(key, roles)

    def add(self, key: str, roles: frozenset[str] | tuple[str, ...]) -> None:
        if key in self._rules:
            raise ValueError(f"message kind {key!r} already has its senders")
        self._rules[key] = frozenset(roles)

    def roles_for(self, kind: str) -> frozenset[str]:
        """The roles that may send ``kind`` (``{"*"}``: any role; empty: none)."""
        best = ""
        for key in self._rules:
            covers = kind == key or (key.endswith(".") and kind.startswith(key))
            if covers and len(key) > len(best):
                best = key
        return self._rules.get(best, frozenset())

    def refusal(self, kind: str, roles: tuple[str, ...] | list[str]) -> str | None:
        """Why a node of these roles may not send ``kind``, or None."""
        allowed = self.roles_for(kind)
        if "*" in allowed or allowed & set(roles):
            return None
        if not allowed:
            return f"kind {kind!r} is sent by no role"
        return f"kind {kind!r} is sent only by role {', '.join(sorted(allowed))}, not by {', '.join(roles) or 'no role'}"


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    rejected: dict[str, str] = field(default_factory=dict)
    stored_kinds: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)  # kinds refused because of the sender's roles


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
    *,
    roles: tuple[str, ...] | list[str] = (),
    senders: Senders | None = None,
) -> IngestResult:
    """Store a batch inside the caller's transaction.

    ``handlers`` maps a message kind to a function called, in the same
    transaction, for each message of that kind the first time it is stored
    (e.g. voting results become open data). With ``senders``, a message
    whose kind the node's ``roles`` do not send is refused and raises the
    security alert ``security.kind:<node>``.
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
        if reason is None and senders is not None:
            reason = senders.refusal(msg["kind"], roles)
            if reason is not None:
                result.forbidden.append(msg["kind"])
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
        msg = item["msg"]
        # Each message with effects in a savepoint of its own: a payload its
        # handler cannot use is refused alone, and leaves nothing behind.
        conn.execute("SAVEPOINT ingest_message")
        try:
            cur = conn.execute(sql, item["row"])
            if not cur.rowcount:
                result.duplicates += 1
                continue
            if msg["kind"] == "alert":
                _apply_alert(conn, node_id, site, msg)
            handler = handlers.get(msg["kind"])
            if handler is not None:
                handler(conn, node_id, site, msg)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            conn.execute("ROLLBACK TO ingest_message")
            result.rejected[msg["msg_id"]] = f"payload of {msg['kind']} not understood: {type(exc).__name__} {exc}"[:300]
            continue
        finally:
            conn.execute("RELEASE ingest_message")
        result.stored += 1
    if result.forbidden:
        kinds = ", ".join(sorted(set(result.forbidden)))
        raise_alert(
            conn, f"security.kind:{node_id}", "security.kind", Severity.CRITICAL,
            f"Вузол {node_id[:8]} ({', '.join(roles) or 'без ролей'}) надіслав повідомлення, яких його ролі"
            f" не надсилають ({kinds}); їх відхилено. Перевірте, чи пристрій не викрадено.",
            f"Node {node_id[:8]} ({', '.join(roles) or 'no roles'}) sent messages its roles do not send"
            f" ({kinds}); they were refused. Check the device has not been stolen.",
            node_id=node_id, site=site,
        )
    return result


def _apply_alert(conn: sqlite3.Connection, node_id: str, site: str, msg: dict[str, Any]) -> None:
    p = msg["payload"]
    key = f"{node_id}:{p['key']}"
    if p["state"] == "raised":
        raise_alert(conn, key, p["key"].split(":")[0], Severity(p["severity"]), p["message"],
                    str(p.get("message_en", "")), node_id=node_id, site=site, at=msg["created_at"])
    else:
        clear_alert(conn, key, at=msg["created_at"])
