"""Alerts at the hub: raised once per condition, cleared when it ends.

An alert is keyed by ``dedup_key`` (e.g. ``node-offline:<node id>`` or a
role's own key such as ``camera:<id>:frozen``); while one is open, raising
the same key again changes nothing, so a node that repeats itself after a
reconnect does not flood technicians.
"""

from __future__ import annotations

import sqlite3
from enum import StrEnum
from typing import Any

from edge.timeutil import iso_utc


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


def raise_alert(
    conn: sqlite3.Connection,
    dedup_key: str,
    kind: str,
    severity: Severity,
    message: str,
    message_en: str = "",
    node_id: str | None = None,
    site: str | None = None,
    at: str | None = None,
) -> int | None:
    """Open an alert unless one with the same key is open; return its id when new."""
    cur = conn.execute(
        "INSERT INTO alerts (dedup_key, node_id, site, kind, severity, message, message_en, raised_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) WHERE cleared_at IS NULL DO NOTHING",
        (dedup_key, node_id, site, kind, severity.value, message, message_en, at or iso_utc()),
    )
    return cur.lastrowid if cur.rowcount else None


def clear_alert(conn: sqlite3.Connection, dedup_key: str, at: str | None = None) -> bool:
    """Close the open alert with this key; True when there was one."""
    cur = conn.execute(
        "UPDATE alerts SET cleared_at = ? WHERE dedup_key = ? AND cleared_at IS NULL", (at or iso_utc(), dedup_key)
    )
    return cur.rowcount > 0


def acknowledge(conn: sqlite3.Connection, alert_id: int, who: str) -> bool:
    cur = conn.execute(
        "UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL", (iso_utc(), who, alert_id)
    )
    return cur.rowcount > 0


def open_alerts(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, dedup_key, node_id, site, kind, severity, message, message_en, raised_at, acked_at, acked_by"
        " FROM alerts WHERE cleared_at IS NULL"
        " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, id DESC"
    ).fetchall()
    keys = ["id", "dedup_key", "node_id", "site", "kind", "severity", "message", "message_en", "raised_at",
            "acked_at", "acked_by"]
    return [dict(zip(keys, r)) for r in rows]


def resolve(conn: sqlite3.Connection, alert_id: int, who: str) -> bool:
    """A person closes an open alert (e.g. a known fault being repaired), recorded with who and when."""
    now = iso_utc()
    cur = conn.execute(
        "UPDATE alerts SET cleared_at = ?, resolved_by = ?, acked_at = COALESCE(acked_at, ?),"
        " acked_by = COALESCE(acked_by, ?) WHERE id = ? AND cleared_at IS NULL", (now, who, now, who, alert_id))
    return cur.rowcount > 0


def list_alerts(conn: sqlite3.Connection, state: str = "open", severity: str | None = None, site: str | None = None,
                node_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Alerts for the dashboard: ``state`` open, closed or all; newest first within severity."""
    sql = ("SELECT a.id, a.dedup_key, a.node_id, n.name, a.site, a.kind, a.severity, a.message, a.message_en,"
           " a.raised_at, a.cleared_at, a.acked_at, a.acked_by, a.resolved_by FROM alerts a"
           " LEFT JOIN nodes n USING (node_id) WHERE 1 = 1")
    args: list[Any] = []
    if state == "open":
        sql += " AND a.cleared_at IS NULL"
    elif state == "closed":
        sql += " AND a.cleared_at IS NOT NULL"
    for column, value in (("a.severity", severity), ("a.site", site), ("a.node_id", node_id)):
        if value:
            sql += f" AND {column} = ?"
            args.append(value)
    sql += (" ORDER BY a.cleared_at IS NOT NULL, CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1"
            " ELSE 2 END, a.id DESC LIMIT ?")
    keys = ["id", "dedup_key", "node_id", "node", "site", "kind", "severity", "message", "message_en", "raised_at",
            "cleared_at", "acked_at", "acked_by", "resolved_by"]
    out = [dict(zip(keys, r)) for r in conn.execute(sql, (*args, limit)).fetchall()]
    failures = dict(conn.execute(
        "SELECT alert_id, group_concat(channel || ': ' || last_error, '; ') FROM notify_deliveries"
        " WHERE delivered_at IS NULL AND last_error IS NOT NULL GROUP BY alert_id").fetchall())
    for a in out:
        a["notify_failures"] = failures.get(a["id"])
    return out
