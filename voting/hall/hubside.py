"""Roll-call results at the hub: stored from the halls' outboxes, published as open data.

Public and read-only, without login, so the council can publish them on the
day of the vote: per day and per sitting, ``motions.csv`` and ``votings.csv``
in the open-data format (``voting.hall.opendata``), UTF-8, and the same as JSON.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from typing import Any

from aiohttp import web

from edge.hub.alerts import Severity, raise_alert
from edge.hub.extensions import HubExtension, Section
from edge.timeutil import iso_utc
from edge.uk import plural
from edge.web import error, json_response
from voting.hall.opendata import MOTION_COLUMNS, VOTING_COLUMNS, table_csv

MIGRATIONS = [
    """
    CREATE TABLE opendata_motions (
        authority_id TEXT NOT NULL,
        uid TEXT NOT NULL,
        date TEXT NOT NULL,
        convocation INTEGER NOT NULL,
        session INTEGER NOT NULL,
        row TEXT NOT NULL,
        node_id TEXT NOT NULL,
        chain_hash TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (authority_id, uid)
    );
    CREATE INDEX opendata_motions_date ON opendata_motions (date);
    CREATE TABLE opendata_votings (
        authority_id TEXT NOT NULL,
        motion_uid TEXT NOT NULL,
        voter_id TEXT NOT NULL,
        ord INTEGER NOT NULL,
        row TEXT NOT NULL,
        PRIMARY KEY (authority_id, motion_uid, voter_id)
    );
    """
]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SITTING = re.compile(r"^(\d{1,3})-(\d{1,4})$")
_PLAIN = re.compile(r"^[\w.-]{1,100}$")
# The public index is a page of links: no script, no style, no frame, no form.
PUBLIC_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def store_result(conn: sqlite3.Connection, node_id: str, site: str, msg: dict[str, Any]) -> None:
    """Ingest handler for ``voting.result`` (runs in the ingest transaction)."""
    p = msg["payload"]
    motion, sitting = p["motion"], p["sitting"]
    authority = str(motion["authorityId"])
    # What becomes a URL and a page must be what it says it is (the refusal
    # rolls this message back alone: edge.hub.ingest).
    if not isinstance(motion.get("date"), str) or not _DATE.match(motion["date"]):
        raise ValueError("motion.date must be YYYY-MM-DD")
    if not _PLAIN.match(str(motion["uid"])) or not _PLAIN.match(authority):
        raise ValueError("motion.uid and motion.authorityId must be letters, digits, '-', '_' or '.'")
    if not all(isinstance(sitting.get(k), int) and not isinstance(sitting.get(k), bool) and sitting[k] >= 0
               for k in ("convocation", "session")):
        raise ValueError("sitting.convocation and sitting.session must be whole numbers")
    votings, chain_hash = list(p.get("votings", [])), str(p.get("chain_hash", ""))
    # What is published stays published: the same result again is a no-op; a different one under a
    # published uid is never applied, and the technicians are told.
    old = conn.execute("SELECT row, chain_hash FROM opendata_motions WHERE authority_id = ? AND uid = ?",
                       (authority, motion["uid"])).fetchone()
    if old is not None:
        old_votings = [json.loads(r[0]) for r in conn.execute(
            "SELECT row FROM opendata_votings WHERE authority_id = ? AND motion_uid = ? ORDER BY ord",
            (authority, motion["uid"]))]
        if json.loads(old[0]) == motion and old[1] == chain_hash and old_votings == votings:
            return
        raise_alert(
            conn, f"voting.conflict:{authority}:{motion['uid']}", "voting.conflict", Severity.CRITICAL,
            f"Отримано інший результат голосування {motion['uid']} (ЄДРПОУ {authority}), ніж уже оприлюднений;"
            " оприлюднений лишився без змін. Перевірте журнал зали: hromada voting verify.",
            f"A different result arrived for vote {motion['uid']} (authority {authority}) than the one published;"
            " the published one is unchanged. Check the hall's journal: hromada voting verify.",
            node_id=node_id, site=site)
        return
    conn.execute(
        "INSERT INTO opendata_motions (authority_id, uid, date, convocation, session, row, node_id, chain_hash,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (authority, motion["uid"], motion["date"], int(sitting["convocation"]), int(sitting["session"]),
         json.dumps(motion, ensure_ascii=False), node_id, chain_hash, iso_utc()))
    conn.executemany(
        "INSERT INTO opendata_votings (authority_id, motion_uid, voter_id, ord, row) VALUES (?, ?, ?, ?, ?)",
        [(authority, motion["uid"], v["voterId"], i, json.dumps(v, ensure_ascii=False))
         for i, v in enumerate(votings)])


def _uid_order(uid: str) -> tuple[str, int]:
    head, _, n = uid.rpartition("-")
    return (head, int(n)) if n.isdigit() else (uid, 0)


def _select(conn: sqlite3.Connection, day: str, sitting: tuple[int, int] | None) -> tuple[list[dict], list[dict]]:
    sql = "SELECT authority_id, uid, row FROM opendata_motions WHERE date = ?"
    args: list[Any] = [day]
    if sitting:
        sql += " AND convocation = ? AND session = ?"
        args += list(sitting)
    motions = sorted(conn.execute(sql, args).fetchall(), key=lambda r: (r[0], _uid_order(r[1])))
    votings: list[dict] = []
    for authority, uid, _ in motions:
        votings += [json.loads(r[0]) for r in conn.execute(
            "SELECT row FROM opendata_votings WHERE authority_id = ? AND motion_uid = ? ORDER BY ord",
            (authority, uid))]
    return [json.loads(r[2]) for r in motions], votings


class OpenData:
    """The hub's public open-data routes for roll-call voting."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    async def _rows(self, request: web.Request) -> tuple[list[dict], list[dict]]:
        day = request.match_info["day"]
        if not _DATE.match(day):
            raise error(404, "not_found", "date must be YYYY-MM-DD")
        sitting = None
        if "sitting" in request.match_info:
            m = _SITTING.match(request.match_info["sitting"])
            if not m:
                raise error(404, "not_found", "sitting must be <convocation>-<session>")
            sitting = (int(m.group(1)), int(m.group(2)))
        motions, votings = await self.hub.store.run(lambda db: _select(db, day, sitting))
        if not motions:
            raise error(404, "not_found", "Немає результатів за цю дату / no results for this date")
        return motions, votings

    async def motions(self, request: web.Request) -> web.Response:
        motions, _ = await self._rows(request)
        return _csv_response(table_csv(MOTION_COLUMNS, motions), "motions.csv")

    async def votings(self, request: web.Request) -> web.Response:
        _, votings = await self._rows(request)
        return _csv_response(table_csv(VOTING_COLUMNS, votings), "votings.csv")

    async def document(self, request: web.Request) -> web.Response:
        motions, votings = await self._rows(request)
        return json_response({"motions": motions, "votings": votings})

    async def index(self, request: web.Request) -> web.Response:
        rows = await self.hub.store.run(lambda db: db.execute(
            "SELECT date, convocation, session, count(*) FROM opendata_motions GROUP BY date, convocation, session"
            " ORDER BY date DESC, convocation, session").fetchall())
        items = [{"date": d, "convocation": c, "session": s, "motions": n,
                  "day": {"motions.csv": f"/opendata/voting/{d}/motions.csv",
                          "votings.csv": f"/opendata/voting/{d}/votings.csv",
                          "json": f"/opendata/voting/{d}/roll-call.json"},
                  "sitting": {"motions.csv": f"/opendata/voting/{d}/{c}-{s}/motions.csv",
                              "votings.csv": f"/opendata/voting/{d}/{c}-{s}/votings.csv",
                              "json": f"/opendata/voting/{d}/{c}-{s}/roll-call.json"}} for d, c, s, n in rows]
        if "application/json" in request.headers.get("Accept", "") or request.path.endswith(".json"):
            return json_response({"sittings": items})
        # Every value is escaped: the rows came from nodes, and this page is public.
        lines = ["<!doctype html><html lang='uk'><meta charset='utf-8'><title>Поіменне голосування · Roll-call votes"
                 "</title><body><h1>Результати поіменного голосування <small>Roll-call results</small></h1><ul>"]
        for it in items:
            s = {k: html.escape(v, quote=True) for k, v in it["sitting"].items()}
            n = int(it["motions"])
            lines.append(f"<li>{html.escape(str(it['date']))}: скликання {html.escape(str(it['convocation']))}, "
                         f"сесія {html.escape(str(it['session']))} ({n} {plural(n, 'питання', 'питання', 'питань')})"
                         f" — <a href=\"{s['motions.csv']}\">motions.csv</a> · "
                         f"<a href=\"{s['votings.csv']}\">votings.csv</a> · <a href=\"{s['json']}\">JSON</a></li>")
        lines.append("</ul></body></html>")
        return web.Response(text="".join(lines), content_type="text/html", charset="utf-8",
                            headers={"Content-Security-Policy": PUBLIC_CSP, "X-Content-Type-Options": "nosniff",
                                     "Referrer-Policy": "no-referrer"})


def _csv_response(text: str, name: str) -> web.Response:
    return web.Response(body=text.encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'inline; filename="{name}"',
                                 "Access-Control-Allow-Origin": "*"})


def extend(hub: Any) -> None:
    """Add the session hall to a hub: roll-call open data (schema, ingest handler, public routes), its page."""
    od = OpenData(hub)
    hub.install(HubExtension(
        name="hall",
        migrations={"voting-opendata": MIGRATIONS},
        ingest={"voting.result": store_result},
        senders={"voting.": ("hall",)},
        # The hall's page on the dashboard: its current sitting and links to the open data.
        sections=[Section("hall", "Сесійна зала", "Session hall", "view", ("voting.hall", "hubside.js"), order=30)],
        public_routes=[("GET", path, handler) for path, handler in (
            ("/opendata/voting/", od.index),
            ("/opendata/voting/index.json", od.index),
            ("/opendata/voting/{day}/motions.csv", od.motions),
            ("/opendata/voting/{day}/votings.csv", od.votings),
            ("/opendata/voting/{day}/roll-call.json", od.document),
            ("/opendata/voting/{day}/{sitting}/motions.csv", od.motions),
            ("/opendata/voting/{day}/{sitting}/votings.csv", od.votings),
            ("/opendata/voting/{day}/{sitting}/roll-call.json", od.document))],
    ))
