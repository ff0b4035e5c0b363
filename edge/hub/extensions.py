"""What a role adds to the hub, declared in one object: ``HubExtension``.

The hub core (registry, ingest, alerts, the dashboard's frame) knows no role's
payloads. A role that has something to keep or show at the hub has a
``hubside.py`` whose ``extend(hub)`` (named in ``edge.roles.HUB_EXTENSIONS``)
builds a ``HubExtension`` and hands it to ``Hub.install``:

- ``migrations``: its own tables, by store component (the component's name is
  its version history in every hub database: never rename one);
- ``ingest``: a handler per message kind, run in the ingest transaction the
  first time a message is stored (``edge.hub.ingest.Handler``);
- ``senders``: which enrolled roles may send its message kinds (a kind or a
  prefix ending in ``.`` → roles); a kind no extension names is refused
  (``edge.hub.ingest.Senders``);
- ``sections``: its pages of the technicians' dashboard: a name, a title, the
  permission that sees it, and the page's script (served from the role's
  package; it draws with the helpers of ``edge/hub/static/dash.js``);
- ``dashboard_routes``: its API behind the dashboard's login, permission and
  CSRF check (``DashRoute``); ``public_routes``: routes without login (open data);
- ``on_startup`` / ``on_cleanup``: its background work, in the hub's lifecycle.

Helpers here (``nodes_with_role``, ``recent_events``) are the generic reads a
role's page needs, so no role writes them again.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Sequence

from aiohttp import web

from edge.hub import auth, registry
from edge.hub.ingest import Handler as IngestHandler

DashHandler = Callable[[web.Request, auth.Session], Awaitable[web.StreamResponse]]
PlainHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Hook = Callable[[web.Application], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Section:
    """One page of the dashboard: its ``#/name``, navigation title, permission and script.

    ``script`` is ``(package, file)`` read with :mod:`importlib.resources`;
    the script registers its page with ``definePage(name, render)`` (the
    core's own sections have none: ``static/dash.js`` draws them).
    ``kinds`` are the message-kind prefixes whose arrival changes the page:
    the live stream then tells those who may see it (topic ``name``).
    ``order`` places it in the navigation (overview 0, alerts 80, enrollment 90).
    """

    name: str
    uk: str
    en: str
    permission: str
    script: tuple[str, str] | None = None
    order: int = 50
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DashRoute:
    """A dashboard API route: only for a session whose role has ``permission`` (None: any session)."""

    method: str
    path: str
    permission: str | None
    handler: DashHandler


@dataclass(frozen=True, slots=True)
class HubExtension:
    """Everything one role adds to the hub; installed once by name (``Hub.install``)."""

    name: str
    migrations: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ingest: Mapping[str, IngestHandler] = field(default_factory=dict)
    senders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sections: Sequence[Section] = ()
    dashboard_routes: Sequence[DashRoute] = ()
    public_routes: Sequence[tuple[str, str, PlainHandler]] = ()
    on_startup: Sequence[Hook] = ()
    on_cleanup: Sequence[Hook] = ()


def nodes_with_role(conn: sqlite3.Connection, role: str) -> list[dict[str, Any]]:
    """Approved nodes that run ``role``, each with ``role_health``: that role's part of its last heartbeat."""
    out = []
    for n in registry.list_nodes(conn, "approved"):
        if role in n["roles"]:
            n["role_health"] = ((n["health"] or {}).get("roles") or {}).get(role)
            out.append(n)
    return out


def recent_events(conn: sqlite3.Connection, node_id: str | None, kind_prefix: str | None,
                  limit: int) -> list[dict[str, Any]]:
    """The newest stored messages, optionally of one node and of kinds starting with ``kind_prefix``."""
    sql = ("SELECT e.id, e.node_id, n.name, e.kind, e.priority, e.created_at, e.payload FROM events e"
           " LEFT JOIN nodes n USING (node_id) WHERE 1 = 1")
    args: list[Any] = []
    if node_id:
        sql += " AND e.node_id = ?"
        args.append(node_id)
    if kind_prefix:
        sql += " AND e.kind LIKE ?"
        args.append(kind_prefix.replace("%", "") + "%")
    rows = conn.execute(sql + " ORDER BY e.id DESC LIMIT ?", (*args, limit)).fetchall()
    return [{"id": r[0], "node_id": r[1], "node": r[2], "kind": r[3], "priority": r[4], "created_at": r[5],
             "payload": json.loads(r[6])} for r in rows]


def payloads(conn: sqlite3.Connection, node_id: str, kind: str, since: str | None = None) -> list[dict[str, Any]]:
    """The payloads of one node's messages of one kind, oldest first, optionally created at ``since`` or later."""
    sql = "SELECT payload FROM events WHERE node_id = ? AND kind = ?"
    args: list[Any] = [node_id, kind]
    if since is not None:
        sql += " AND created_at >= ?"
        args.append(since)
    return [json.loads(p) for (p,) in conn.execute(sql + " ORDER BY id", args)]
