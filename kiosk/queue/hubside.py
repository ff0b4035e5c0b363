"""The queue and the hub: what the queue reports, and the ЦНАП page the hub makes of it.

On the queue's node, :func:`reports` gives the outbox rows written with the
events themselves. ``queue.ticket`` (CRITICAL, never dropped): every event of a ticket's life,
with the ticket's label, service, lane and state after it. ``queue.event``
(EVENT): windows, bookings added, pauses, day changes. A whole-queue pause
also raises a hub alert (``queue:paused``) that its resumption clears.
The hourly and daily figures (``queue.hourly``, ``queue.day``) are made by
:mod:`kiosk.queue.service` from the stored log.

Nothing that identifies a resident leaves the node: the person hash of a
priority ticket and booking codes are removed.

At the hub, :func:`extend` adds the dashboard's ЦНАП page (section ``queue``,
drawn by ``hubside.js``): per queue, who waits per service now (its last
heartbeat), today's figures from the ``queue.hourly`` reports and the
loyalty index from the ``queue.rating`` answers of the last 30 days.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import date
from typing import Any

from aiohttp import web

from edge.hub.extensions import DashRoute, HubExtension, Section, nodes_with_role, payloads
from edge.outbox import Priority
from edge.timeutil import iso_utc
from edge.web import json_response
from kiosk.queue import events as ev
from kiosk.queue.model import Queue
from kiosk.queue.records import TICKET_KINDS
from kiosk.queue.views import Names

PRIVATE = ("person_id", "booking_code", "code")

Report = tuple[str, dict[str, Any], Priority]


def reports(names: Names, q: Queue, events: list[ev.Event], day: date) -> list[Report]:
    """The outbox rows for events just decided on ``q`` (which has applied them)."""
    out: list[Report] = []
    for e in events:
        body = {k: v for k, v in e.to_dict().items() if k not in PRIVATE}
        if isinstance(e, ev.DayRolled):
            body["dropped_bookings"] = len(e.dropped_bookings)  # codes stay here; how many is enough
        head = {"cnap": names.cnap, "day": day.isoformat(), "event": body}
        if e.kind in TICKET_KINDS:
            t = q.ticket(body["ticket_id"])
            head["ticket"] = {"id": t.id, "label": t.label, "service": t.service_id, "kind": t.kind.value,
                              "state": t.state.value, "window": t.window}
            out.append(("queue.ticket", head, Priority.CRITICAL))
            continue
        out.append(("queue.event", head, Priority.EVENT))
        if isinstance(e, ev.QueuePaused):
            text = f"{names.cnap}: обслуговування призупинено ({e.reason.value})"
            out.append(("alert", {"key": "queue:paused", "state": "raised", "severity": "warning",
                                  "message": text, "message_en": f"{names.cnap}: service paused ({e.reason.name})"},
                        Priority.CRITICAL))
        elif isinstance(e, ev.QueueResumed):
            out.append(("alert", {"key": "queue:paused", "state": "cleared"}, Priority.CRITICAL))
    return out


# -- at the hub -------------------------------------------------------------------------------

LOYALTY_DAYS = 30


def queue_day(conn: sqlite3.Connection, node_id: str, day: str | None) -> dict[str, Any]:
    """A day's figures from the queue's hourly reports (the latest report of each hour counts)."""
    latest: dict[str, dict[str, Any]] = {}
    for p in payloads(conn, node_id, "queue.hourly"):
        if day is None or p.get("day") == day:
            latest[p.get("hour", "")] = p
    services: dict[str, dict[str, float]] = {}
    for p in latest.values():
        for row in p.get("by_service") or []:
            acc = services.setdefault(row["key"], {"visits": 0, "served": 0, "no_shows": 0, "wait": 0.0,
                                                   "wait_n": 0, "service": 0.0, "service_n": 0})
            acc["visits"] += row["visits"]
            acc["served"] += row["served"]
            acc["no_shows"] += row["no_shows"]
            if row.get("mean_wait_s") is not None:
                acc["wait"] += row["mean_wait_s"] * row["served"]
                acc["wait_n"] += row["served"]
            if row.get("mean_service_s") is not None:
                acc["service"] += row["mean_service_s"] * row["served"]
                acc["service_n"] += row["served"]
    return {"day": day, "hours": sorted(latest), "services": [
        {"service": k, "visits": v["visits"], "served": v["served"], "no_shows": v["no_shows"],
         "mean_wait_s": round(v["wait"] / v["wait_n"]) if v["wait_n"] else None,
         "mean_service_s": round(v["service"] / v["service_n"]) if v["service_n"] else None}
        for k, v in sorted(services.items())]}


def loyalty(conn: sqlite3.Connection, node_id: str, days: int) -> dict[str, Any]:
    """Loyalty index over the last ``days``: % of 9–10 minus % of 0–6 (null with no answers)."""
    since = iso_utc(time.time() - days * 86_400)
    answers = [p.get("loyalty") for p in payloads(conn, node_id, "queue.rating", since)]
    scores = [a for a in answers if isinstance(a, int)]
    if not scores:
        return {"answers": 0, "index": None, "days": days}
    promoters = sum(a >= 9 for a in scores) / len(scores) * 100
    detractors = sum(a <= 6 for a in scores) / len(scores) * 100
    return {"answers": len(scores), "index": round(promoters - detractors, 1), "days": days}


def queue_page(conn: sqlite3.Connection) -> dict[str, Any]:
    """Per ЦНАП: people waiting per service now, today's wait and service times, the loyalty index."""
    out = []
    for n in nodes_with_role(conn, "queue"):
        health = n["role_health"] or {}
        out.append({"node_id": n["node_id"], "name": n["name"], "site": n["site"], "online": n["online"],
                    "now": health, "today": queue_day(conn, n["node_id"], health.get("day")),
                    "loyalty": loyalty(conn, n["node_id"], LOYALTY_DAYS)})
    return {"queues": out}


def extend(hub: Any) -> None:
    """Add the queue to a hub: the dashboard's ЦНАП page and its data."""
    async def page_data(request: web.Request, sess: Any) -> web.Response:
        return json_response(await hub.store.run(lambda db: queue_page(db)))

    hub.install(HubExtension(
        name="queue",
        senders={"queue.": ("queue",)},
        sections=[Section("queue", "ЦНАП", "Queue", "view", ("kiosk.queue", "hubside.js"), order=40,
                          kinds=("queue.",))],
        dashboard_routes=[DashRoute("GET", "/api/v1/dash/queue", "view", page_data)],
    ))
