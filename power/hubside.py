"""The power role at the hub: orderly shutdowns and the dashboard's power page.

Orderly shutdown: a power node whose UPS is critical sends one ``power.shutdown`` message per
step of its plan, at the step's time (the delays are the plan's, kept on the
node). The hub stores each once (ingest is exactly-once), resolves the
target by node name within the sender's site, and sends the ``shutdown``
command over the target's WebSocket (signed, as every hub command). A
target that is not connected is tried again until ``GIVE_UP_S``; one that
never answers, or is unknown, raises an alert for the technicians.

The power page (section ``power``, drawn by ``hubside.js``): per power node
its state from the last heartbeat and 24 h / 7 d series of its
``power.reading`` messages, then the latest ``power.event`` messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from typing import Any

from aiohttp import web

from edge.hub import alerts
from edge.hub.extensions import DashRoute, HubExtension, Section, nodes_with_role, recent_events
from edge.timeutil import iso_utc
from edge.web import json_response

log = logging.getLogger("hromada.hub.power")

MIGRATIONS = [
    """
    CREATE TABLE power_shutdowns (
        id INTEGER PRIMARY KEY,
        requester TEXT NOT NULL,
        site TEXT NOT NULL,
        target TEXT NOT NULL,
        reason TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        requested_ts REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
        target_node_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        answered_at TEXT,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX power_shutdowns_pending ON power_shutdowns (state) WHERE state = 'pending';
    """
]

GIVE_UP_S = 600.0  # a node not back within ten minutes will not be saved by this request
RETRY_S = 1.0
COMMAND_TIMEOUT_S = 5.0


class ShutdownDispatcher:
    """Sends stored shutdown requests to their targets; runs inside the hub's loop."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def store(self, conn: sqlite3.Connection, node_id: str, site: str, msg: dict[str, Any]) -> None:
        """Ingest handler for ``power.shutdown`` (in the ingest transaction, on the store's thread)."""
        p = msg["payload"]
        target = str(p.get("target", ""))[:100]
        reason = str(p.get("reason", ""))[:200]
        conn.execute("INSERT INTO power_shutdowns (requester, site, target, reason, requested_at, requested_ts)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (node_id, site, target, reason, iso_utc(), time.time()))
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def on_startup(self, app: web.Application) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="power-shutdowns")

    async def on_cleanup(self, app: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RETRY_S)
            self._wake.clear()
            try:
                await self.dispatch_once()
            except Exception:  # a bad row must not stop the shutdowns of the others
                log.exception("shutdown dispatch failed")

    async def dispatch_once(self) -> None:
        store = self.hub.store
        rows = await store.run(lambda db: db.execute(
            "SELECT id, requester, site, target, reason, requested_ts FROM power_shutdowns WHERE state = 'pending'"
            " ORDER BY id").fetchall())
        for row_id, requester, site, target, reason, requested_ts in rows:
            found = await store.run(lambda db: db.execute(
                "SELECT node_id FROM nodes WHERE site = ? AND (name = ? OR node_id = ?) AND status = 'approved'",
                (site, target, target)).fetchone())
            if found is None:
                await self._finish(row_id, requester, site, target, "failed", None, "unknown target")
                continue
            node_id = found[0]
            if node_id not in self.hub.sockets:
                if time.time() - requested_ts > GIVE_UP_S:
                    await self._finish(row_id, requester, site, target, "failed", node_id, "not connected")
                continue
            try:
                reply = await self.hub.send_command(node_id, "shutdown", {"reason": reason, "by": requester},
                                                    timeout=COMMAND_TIMEOUT_S)
            except (LookupError, asyncio.TimeoutError, ConnectionError) as exc:
                detail = str(exc)[:200]
                await store.write(lambda conn: conn.execute(
                    "UPDATE power_shutdowns SET attempts = attempts + 1, detail = ? WHERE id = ?",
                    (detail, row_id)))
                continue
            ok = bool(reply.get("ok"))
            await self._finish(row_id, requester, site, target, "sent" if ok else "failed", node_id,
                               "" if ok else str(reply.get("error", ""))[:200])

    async def _finish(self, row_id: int, requester: str, site: str, target: str, state: str,
                      node_id: str | None, detail: str) -> None:
        def record(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE power_shutdowns SET state = ?, target_node_id = ?, attempts = attempts + 1,"
                         " answered_at = ?, detail = ? WHERE id = ?", (state, node_id, iso_utc(), detail, row_id))
            if state == "failed":
                alerts.raise_alert(
                    conn, f"power-shutdown-failed:{requester}:{target}", "power-shutdown-failed",
                    alerts.Severity.CRITICAL, f"Вузол «{target}» не отримав команду на вимкнення ({detail})",
                    f"Node '{target}' did not get the shutdown command ({detail})", node_id=requester, site=site)
        await self.hub.store.write(record)
        if state == "sent":
            self.sent += 1
        log.log(logging.INFO if state == "sent" else logging.ERROR, "shutdown of %s for %s: %s %s",
                target, requester, state, detail)


def power_series(conn: sqlite3.Connection, node_id: str, span_s: int, bucket_s: int) -> list[dict[str, Any]]:
    """Averages per bucket of a power node's readings: battery charge, mains present, generator running."""
    since = iso_utc(time.time() - span_s)
    rows = conn.execute(
        "SELECT CAST(strftime('%s', created_at) AS INTEGER) / ? AS b,"
        " avg(json_extract(payload, '$.\"battery.charge\"')), avg(json_extract(payload, '$.mains')),"
        " avg(json_extract(payload, '$.gen_running')) FROM events"
        " WHERE node_id = ? AND kind = 'power.reading' AND created_at >= ? GROUP BY b ORDER BY b",
        (bucket_s, node_id, since)).fetchall()
    return [{"t": b * bucket_s, "charge": c, "mains": m, "gen": g} for b, c, m, g in rows]


def power_page(conn: sqlite3.Connection) -> dict[str, Any]:
    """Per power node: its state from the last heartbeat and 24 h / 7 d series from its readings."""
    out = []
    for n in nodes_with_role(conn, "power"):
        series = {name: power_series(conn, n["node_id"], span, bucket)
                  for name, span, bucket in (("24h", 86_400, 900), ("7d", 7 * 86_400, 7200))}
        out.append({"node_id": n["node_id"], "name": n["name"], "site": n["site"], "online": n["online"],
                    "last_seen": n["last_seen"], "power": n["role_health"], "series": series})
    return {"nodes": out, "events": recent_events(conn, None, "power.event", 50)}


def extend(hub: Any) -> None:
    """Add the power role to a hub: schema, the ``power.shutdown`` ingest handler, the dispatcher, the page."""
    dispatcher = ShutdownDispatcher(hub)

    async def page_data(request: web.Request, sess: Any) -> web.Response:
        return json_response(await hub.store.run(lambda db: power_page(db)))

    hub.install(HubExtension(
        name="power",
        migrations={"power-shutdowns": MIGRATIONS},
        ingest={"power.shutdown": dispatcher.store},
        senders={"power.": ("power",)},
        sections=[Section("power", "Живлення", "Power", "view", ("power", "hubside.js"), order=10,
                          kinds=("power.",))],
        dashboard_routes=[DashRoute("GET", "/api/v1/dash/power", "view", page_data)],
        on_startup=[dispatcher.on_startup],
        on_cleanup=[dispatcher.on_cleanup],
    ))
