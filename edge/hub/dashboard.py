"""The technicians' dashboard API: logins, pages' data, live updates.

Every route here needs a session (cookie ``hromada_session``, HttpOnly,
SameSite=Strict) and a permission of the session's role (``auth.PERMISSIONS``);
state-changing requests also need the session's CSRF token in
``X-CSRF-Token``. The police liaison sees cameras only, page and API alike.
Open data (``/opendata/…``), ``/health`` and ``/metrics`` stay public.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict, deque
from importlib import resources
from typing import Any, Awaitable, Callable

from aiohttp import web

from edge.hub import alerts, auth, registry
from edge.identity import seal
from edge.qr import qr_svg
from edge.timeutil import iso_utc
from edge.web import error, json_response, parse_json, read_body

log = logging.getLogger("hromada.hub.dashboard")

COOKIE = "hromada_session"
Handler = Callable[[web.Request, auth.Session], Awaitable[web.StreamResponse]]

# Which live topics a permission may hear about.
TOPICS = {"view": {"nodes", "alerts", "events", "enrollment", "power"}, "cameras": {"cameras"}}


class LoginThrottle:
    """At most ``limit`` login attempts per address per minute (on top of per-account locks)."""

    def __init__(self, limit: int = 10) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, address: str, now: float) -> bool:
        q = self._seen[address]
        while q and q[0] < now - 60:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        return True


class Dashboard:
    """Routes of the dashboard, mounted on the hub's application."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.throttle = LoginThrottle()
        self.subscribers: set[asyncio.Queue[str]] = set()
        r = hub.app.router
        r.add_get("/", self.page)
        r.add_get("/dash/{name:[a-z]+\\.(?:js|css)}", self.asset)
        r.add_post("/api/v1/login", self.login)
        r.add_post("/api/v1/logout", self.guard(None, self.logout))
        r.add_get("/api/v1/me", self.guard(None, self.me, allow_must_change=True))
        r.add_post("/api/v1/password", self.guard(None, self.password, allow_must_change=True))
        r.add_get("/api/v1/nodes", self.guard("view", self.nodes))
        r.add_get("/api/v1/alerts", self.guard("view", self.alerts))
        r.add_get("/api/v1/dash/overview", self.guard("view", self.overview))
        r.add_get("/api/v1/dash/nodes/{node_id}", self.guard("view", self.node))
        r.add_post("/api/v1/dash/alerts/{alert_id:\\d+}/ack", self.guard("act", self.ack))
        r.add_post("/api/v1/dash/alerts/{alert_id:\\d+}/resolve", self.guard("act", self.resolve))
        r.add_get("/api/v1/dash/enrollment", self.guard("enroll", self.enrollment))
        r.add_post("/api/v1/dash/nodes/{node_id}/{action:approve|reject|revoke}", self.guard("enroll", self.decide))
        r.add_post("/api/v1/dash/tokens", self.guard("enroll", self.make_token))
        r.add_get("/api/v1/dash/events", self.guard("view", self.events))
        r.add_get("/api/v1/dash/power", self.guard("view", self.power))
        r.add_get("/api/v1/dash/queue", self.guard("view", self.queue))
        r.add_get("/api/v1/dash/camera-token", self.guard("cameras", self.camera_token))
        r.add_get("/api/v1/dash/cameras", self.guard("cameras", self.cameras))
        r.add_post("/api/v1/dash/cameras/{node_id}/{camera}/rebaseline", self.guard("act", self.rebaseline_camera))
        r.add_get("/api/v1/dash/stream", self.guard(None, self.stream))

    # -- plumbing ------------------------------------------------------------------

    def publish(self, *topics: str) -> None:
        """Tell every open dashboard what changed (it fetches what it shows)."""
        for q in list(self.subscribers):
            for topic in topics:
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(topic)

    def guard(self, permission: str | None, handler: Handler, allow_must_change: bool = False) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            sid = request.cookies.get(COOKIE, "")
            sess = await self.hub.store.run(lambda db: auth.session(db.conn, sid, time.time())) if sid else None
            if sess is None:
                raise error(401, "login_required", "Увійдіть / log in")
            if sess.must_change_password and not allow_must_change:
                raise error(403, "change_password", "Спершу змініть пароль / change your password first")
            if permission is not None and not sess.may(permission):
                raise error(403, "forbidden", "Недостатньо прав / not allowed for your role")
            if request.method != "GET" and request.headers.get("X-CSRF-Token") != sess.csrf:
                raise error(403, "csrf", "Бракує токена CSRF / missing CSRF token")
            return await handler(request, sess)
        return wrapped

    async def _json(self, request: web.Request) -> dict[str, Any]:
        data = parse_json(await read_body(request))
        if not isinstance(data, dict):
            raise error(400, "bad_request", "body must be a JSON object")
        return data

    # -- pages ----------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        text = resources.files("edge.hub").joinpath("static/dash.html").read_text(encoding="utf-8")
        return web.Response(text=text, content_type="text/html", charset="utf-8",
                            headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' data: http: https:;"
                                     " style-src 'self'; script-src 'self'; frame-ancestors 'none'",
                                     "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            text = resources.files("edge.hub").joinpath(f"static/{name}").read_text(encoding="utf-8")
        except FileNotFoundError:
            raise web.HTTPNotFound() from None
        ctype = "application/javascript" if name.endswith(".js") else "text/css"
        return web.Response(text=text, content_type=ctype, charset="utf-8")

    # -- session ---------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        now = time.time()
        if not self.throttle.allow(request.remote or "?", now):
            raise error(429, "too_many", "Забагато спроб, зачекайте хвилину / too many attempts, wait a minute")
        d = await self._json(request)
        user, password, code = str(d.get("username", "")), str(d.get("password", "")), str(d.get("totp", ""))
        result = await self.hub.store.write(lambda conn: auth.login(conn, user, password, code, now))
        if result is None:
            log.info("failed login for %r from %s", user[:64], request.remote)
            raise error(401, "login_failed", "Невірне ім'я, пароль або код / wrong name, password or code")
        sid, sess = result
        log.info("user %s (%s) logged in from %s", sess.username, sess.role.value, request.remote)
        resp = json_response(self._me(sess))
        resp.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", max_age=auth.SESSION_TTL_S, path="/",
                        secure=request.secure)
        return resp

    def _me(self, sess: auth.Session) -> dict[str, Any]:
        return {"username": sess.username, "role": sess.role.value, "csrf": sess.csrf,
                "must_change_password": sess.must_change_password,
                "permissions": sorted(auth.PERMISSIONS[sess.role])}

    async def logout(self, request: web.Request, sess: auth.Session) -> web.Response:
        sid = request.cookies.get(COOKIE, "")
        await self.hub.store.write(lambda conn: auth.logout(conn, sid))
        resp = json_response({"ok": True})
        resp.del_cookie(COOKIE, path="/")
        return resp

    async def me(self, request: web.Request, sess: auth.Session) -> web.Response:
        return json_response(self._me(sess))

    async def password(self, request: web.Request, sess: auth.Session) -> web.Response:
        d = await self._json(request)
        try:
            await self.hub.store.write(lambda conn: auth.change_password(
                conn, sess.username, str(d.get("old", "")), str(d.get("new", ""))))
        except auth.AuthError:
            raise error(403, "wrong_password", "Невірний поточний пароль / wrong current password") from None
        except ValueError as exc:
            raise error(400, "weak_password", str(exc)) from None
        return json_response({"ok": True})

    # -- data --------------------------------------------------------------------------------

    async def nodes(self, request: web.Request, sess: auth.Session) -> web.Response:
        data = await self.hub.store.run(lambda db: {"nodes": registry.list_nodes(db.conn),
                                                    "discovered": registry.list_discovered(db.conn)})
        for node in data["nodes"]:
            node["connected"] = node["node_id"] in self.hub.sockets
        return json_response(data)

    async def alerts(self, request: web.Request, sess: auth.Session) -> web.Response:
        q = request.query
        return json_response({"alerts": await self.hub.store.run(lambda db: alerts.list_alerts(
            db.conn, state=q.get("state", "open"), severity=q.get("severity") or None, site=q.get("site") or None,
            limit=min(int(q.get("limit", "200") or 200), 1000)))})

    async def overview(self, request: web.Request, sess: auth.Session) -> web.Response:
        def read(db: Any) -> dict[str, Any]:
            nodes = registry.list_nodes(db.conn)
            sites: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for n in nodes:
                state = n["status"] if n["status"] != "approved" else ("online" if n["online"] else "offline")
                sites[n["site"]].append({"node_id": n["node_id"], "name": n["name"], "roles": n["roles"],
                                         "state": state, "last_seen": n["last_seen"]})
            counts = dict(db.conn.execute("SELECT severity, count(*) FROM alerts WHERE cleared_at IS NULL"
                                          " GROUP BY severity").fetchall())
            return {"sites": [{"site": s, "nodes": v} for s, v in sorted(sites.items())],
                    "alerts_open": {k: counts.get(k, 0) for k in ("critical", "warning", "info")},
                    "events": _events(db.conn, None, None, 20)}
        return json_response(await self.hub.store.run(read))

    async def node(self, request: web.Request, sess: auth.Session) -> web.Response:
        node_id = request.match_info["node_id"]

        def read(db: Any) -> dict[str, Any] | None:
            rows = [n for n in registry.list_nodes(db.conn) if n["node_id"] == node_id]
            if not rows:
                return None
            return {"node": rows[0], "events": _events(db.conn, node_id, None, 50),
                    "alerts": alerts.list_alerts(db.conn, state="all", node_id=node_id, limit=50)}
        data = await self.hub.store.run(read)
        if data is None:
            raise error(404, "not_found", "Немає такого вузла / no such node")
        data["node"]["connected"] = node_id in self.hub.sockets
        return json_response(data)

    async def events(self, request: web.Request, sess: auth.Session) -> web.Response:
        kind = request.query.get("kind") or None
        limit = min(int(request.query.get("limit", "100") or 100), 2000)
        return json_response({"events": await self.hub.store.run(lambda db: _events(db.conn, None, kind, limit))})

    async def power(self, request: web.Request, sess: auth.Session) -> web.Response:
        """Per power node: its state from the last heartbeat and 24 h / 7 d series from its readings."""
        def read(db: Any) -> dict[str, Any]:
            out = []
            for n in registry.list_nodes(db.conn, "approved"):
                if "power" not in n["roles"]:
                    continue
                series = {name: _power_series(db.conn, n["node_id"], span, bucket)
                          for name, span, bucket in (("24h", 86_400, 900), ("7d", 7 * 86_400, 7200))}
                out.append({"node_id": n["node_id"], "name": n["name"], "site": n["site"], "online": n["online"],
                            "last_seen": n["last_seen"],
                            "power": ((n["health"] or {}).get("roles") or {}).get("power"), "series": series})
            return {"nodes": out, "events": _events(db.conn, None, "power.event", 50)}
        return json_response(await self.hub.store.run(read))

    async def queue(self, request: web.Request, sess: auth.Session) -> web.Response:
        """Per ЦНАП: people waiting per service now, today's wait and service times, the loyalty index."""
        def read(db: Any) -> dict[str, Any]:
            out = []
            for n in registry.list_nodes(db.conn, "approved"):
                if "queue" not in n["roles"]:
                    continue
                health = ((n["health"] or {}).get("roles") or {}).get("queue") or {}
                out.append({"node_id": n["node_id"], "name": n["name"], "site": n["site"], "online": n["online"],
                            "now": health, "today": _queue_day(db.conn, n["node_id"], health.get("day")),
                            "loyalty": _loyalty(db.conn, n["node_id"], 30)})
            return {"queues": out}
        return json_response(await self.hub.store.run(read))

    async def cameras(self, request: web.Request, sess: auth.Session) -> web.Response:
        def read(db: Any) -> dict[str, Any]:
            nodes = [n for n in registry.list_nodes(db.conn, "approved") if "camera" in n["roles"]]
            return {"relays": [{"node_id": n["node_id"], "name": n["name"], "site": n["site"],
                                "online": n["online"], "url": f"http://{n['address']}:{n['port']}" if n["address"]
                                else None, "health": (n["health"] or {}).get("roles", {}).get("camera")}
                               for n in nodes],
                    "alerts": [a for a in alerts.list_alerts(db.conn, state="all", limit=200)
                               if a["kind"].startswith("camera")],
                    "events": _events(db.conn, None, "camera.", 100)}
        return json_response(await self.hub.store.run(read))

    async def camera_token(self, request: web.Request, sess: auth.Session) -> web.Response:
        """A short-lived viewer token sealed by the hub's key; camera relays check it offline."""
        exp = time.time() + 600
        token = seal(self.hub.identity, {"sub": sess.username, "role": sess.role.value, "exp": exp,
                                         "scope": "cameras"})
        return json_response({"token": token, "expires": iso_utc(exp)})

    # -- actions ------------------------------------------------------------------------------

    async def rebaseline_camera(self, request: web.Request, sess: auth.Session) -> web.Response:
        """A technician accepts a camera's new view (re-aimed or refocused on purpose): a signed command."""
        node_id, camera = request.match_info["node_id"], request.match_info["camera"]
        try:
            reply = await self.hub.send_command(node_id, "camera.rebaseline", {"camera": camera,
                                                                                "by": sess.username})
        except LookupError:
            raise error(409, "node_offline", "Ретранслятор не на зв'язку; спробуйте, коли він повернеться / "
                                             "the relay is not connected; try again when it is back") from None
        except (asyncio.TimeoutError, ConnectionError):
            raise error(504, "no_reply", "Ретранслятор не відповів / the relay did not answer") from None
        if not reply.get("ok"):
            raise error(409, "refused", str(reply.get("error") or "refused"))
        log.info("%s accepted the new view of camera %s on %s", sess.username, camera, node_id)
        return json_response({"ok": True, **(reply.get("result") or {})})

    async def ack(self, request: web.Request, sess: auth.Session) -> web.Response:
        alert_id = int(request.match_info["alert_id"])
        if not await self.hub.store.write(lambda conn: alerts.acknowledge(conn, alert_id, sess.username)):
            raise error(409, "not_open", "Тривога вже підтверджена або її немає / already acknowledged or unknown")
        self.publish("alerts")
        return json_response({"ok": True})

    async def resolve(self, request: web.Request, sess: auth.Session) -> web.Response:
        alert_id = int(request.match_info["alert_id"])
        if not await self.hub.store.write(lambda conn: alerts.resolve(conn, alert_id, sess.username)):
            raise error(409, "not_open", "Тривога вже закрита або її немає / already closed or unknown")
        self.publish("alerts")
        return json_response({"ok": True})

    async def enrollment(self, request: web.Request, sess: auth.Session) -> web.Response:
        return json_response(await self.hub.store.run(lambda db: {
            "pending": registry.list_nodes(db.conn, "pending"), "discovered": registry.list_discovered(db.conn)}))

    async def decide(self, request: web.Request, sess: auth.Session) -> web.Response:
        node_id, action = request.match_info["node_id"], request.match_info["action"]
        try:
            status = await self.hub.store.write(lambda conn: registry.decide(conn, node_id, action, sess.username))
        except registry.EnrollmentError as exc:
            raise error(exc.status, "enrollment", exc.reason) from None
        self.publish("nodes", "enrollment")
        return json_response({"node_id": node_id, "status": status.value})

    async def make_token(self, request: web.Request, sess: auth.Session) -> web.Response:
        d = await self._json(request)
        site, role = str(d.get("site", "")).strip(), str(d.get("role", "")).strip()
        if not site or not role:
            raise error(400, "bad_request", "Вкажіть майданчик і роль / site and role are required")
        ttl = float(d.get("ttl_s") or self.hub.cfg.token_ttl_s)
        code, expires = await self.hub.store.write(lambda conn: registry.make_token(
            conn, self.hub.identity.fingerprint, site, role, ttl, pre_approved=bool(d.get("pre_approved")),
            note=str(d.get("note", ""))[:200], actor=sess.username))
        return json_response({"code": str(code), "expires": iso_utc(expires), "qr_svg": qr_svg(str(code))})

    # -- live ------------------------------------------------------------------------------------

    async def stream(self, request: web.Request, sess: auth.Session) -> web.StreamResponse:
        """Server-sent events: the names of what changed, so the page refetches it."""
        allowed = set().union(*(TOPICS.get(p, set()) for p in auth.PERMISSIONS[sess.role]))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=256)
        self.subscribers.add(q)
        try:
            await resp.write(b": hello\n\n")
            while True:
                try:
                    topic = await asyncio.wait_for(q.get(), 15.0)
                except asyncio.TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                if topic in allowed:
                    await resp.write(f"event: changed\ndata: {json.dumps({'topic': topic})}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.subscribers.discard(q)
        return resp


def _events(conn: Any, node_id: str | None, kind_prefix: str | None, limit: int) -> list[dict[str, Any]]:
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


def _power_series(conn: Any, node_id: str, span_s: int, bucket_s: int) -> list[dict[str, Any]]:
    """Averages per bucket of a power node's readings: battery charge, mains present, generator running."""
    since = iso_utc(time.time() - span_s)
    rows = conn.execute(
        "SELECT CAST(strftime('%s', created_at) AS INTEGER) / ? AS b,"
        " avg(json_extract(payload, '$.\"battery.charge\"')), avg(json_extract(payload, '$.mains')),"
        " avg(json_extract(payload, '$.gen_running')) FROM events"
        " WHERE node_id = ? AND kind = 'power.reading' AND created_at >= ? GROUP BY b ORDER BY b",
        (bucket_s, node_id, since)).fetchall()
    return [{"t": b * bucket_s, "charge": c, "mains": m, "gen": g} for b, c, m, g in rows]


def _queue_day(conn: Any, node_id: str, day: str | None) -> dict[str, Any]:
    """A day's figures from the queue's hourly reports (the latest report of each hour counts)."""
    latest: dict[str, dict[str, Any]] = {}
    for (payload,) in conn.execute("SELECT payload FROM events WHERE node_id = ? AND kind = 'queue.hourly'"
                                   " ORDER BY id", (node_id,)):
        p = json.loads(payload)
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


def _loyalty(conn: Any, node_id: str, days: int) -> dict[str, Any]:
    """Loyalty index over the last ``days``: % of 9–10 minus % of 0–6 (null with no answers)."""
    since = iso_utc(time.time() - days * 86_400)
    answers = [json.loads(p).get("loyalty") for (p,) in conn.execute(
        "SELECT payload FROM events WHERE node_id = ? AND kind = 'queue.rating' AND created_at >= ?", (node_id, since))]
    scores = [a for a in answers if isinstance(a, int)]
    if not scores:
        return {"answers": 0, "index": None, "days": days}
    promoters = sum(a >= 9 for a in scores) / len(scores) * 100
    detractors = sum(a <= 6 for a in scores) / len(scores) * 100
    return {"answers": len(scores), "index": round(promoters - detractors, 1), "days": days}
