"""The technicians' dashboard API: logins, pages' data, live updates.

Every route here needs a session (cookie ``hromada_session``, HttpOnly,
SameSite=Strict) and a permission of the session's role (``auth.PERMISSIONS``);
state-changing requests also need the session's CSRF token in
``X-CSRF-Token``. The police liaison sees cameras only, page and API alike.
Open data (``/opendata/…``), ``/health`` and ``/metrics`` stay public.

The core here is the frame: logins, nodes, alerts, events, enrollment and
the live stream. The roles' pages (power, cameras, the session hall, the
ЦНАП queue) come from their hub extensions (``edge.hub.extensions``): each
adds a ``Section`` (navigation entry, permission, page script) and its own
``DashRoute``s, guarded here like the core's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import defaultdict
from importlib import resources
from typing import Any

from aiohttp import web

from edge.hub import alerts, auth, registry
from edge.hub.extensions import DashHandler, DashRoute, Section, recent_events
from edge.hub.throttle import Throttle
from edge.qr import qr_svg
from edge.timeutil import iso_utc
from edge.web import error, finite_number, json_response, parse_json, query_int, read_body

log = logging.getLogger("hromada.hub.dashboard")

COOKIE = "hromada_session"
Handler = DashHandler

# Which live topics of the core a permission may hear about; each section adds its own.
TOPICS = {"view": {"nodes", "alerts", "events", "enrollment"}}

# The core's own pages (drawn by static/dash.js), placed around the roles' sections by ``order``.
CORE_SECTIONS = (
    Section("overview", "Огляд", "Overview", "view", order=0),
    Section("alerts", "Тривоги", "Alerts", "view", order=80),
    Section("enrollment", "Реєстрація вузлів", "Enrollment", "enroll", order=90),
)
SCRIPTS_MARK = "<!-- section scripts -->"


class Dashboard:
    """Routes of the dashboard, mounted on the hub's application."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.throttle = Throttle(10)  # login attempts per address per minute, on top of per-account locks
        self.subscribers: set[asyncio.Queue[str]] = set()
        self.sections: list[Section] = list(CORE_SECTIONS)
        r = hub.app.router
        r.add_get("/", self.page)
        r.add_get("/dash/{name:[a-z]+\\.(?:js|css)}", self.asset)
        r.add_get("/dash/section/{name:[a-z][a-z0-9-]*}.js", self.section_script)
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
        r.add_get("/api/v1/dash/stream", self.guard(None, self.stream))

    # -- what the roles add ------------------------------------------------------------

    def add_section(self, section: Section) -> None:
        """A role's page: in the navigation of those with its permission, its script on the page."""
        if not re.fullmatch(r"[a-z][a-z0-9-]*", section.name):
            raise ValueError(f"dashboard section name {section.name!r}: lower-case letters, digits and '-'")
        if any(s.name == section.name for s in self.sections):
            raise ValueError(f"dashboard section {section.name!r} is already there")
        self.sections.append(section)
        self.sections.sort(key=lambda s: s.order)

    def add_route(self, route: DashRoute) -> None:
        """A role's API route, behind the same login, permission and CSRF checks as the core's."""
        self.hub.app.router.add_route(route.method, route.path, self.guard(route.permission, route.handler))

    def topics_of(self, kinds: set[str]) -> list[str]:
        """The live topics that messages of these kinds change (the sections that show them)."""
        return [s.name for s in self.sections
                if s.kinds and any(str(k).startswith(s.kinds) for k in kinds)]

    def _topics(self, sess: auth.Session) -> set[str]:
        mine = auth.PERMISSIONS[sess.role]
        allowed = set().union(*(TOPICS.get(p, set()) for p in mine))
        return allowed | {s.name for s in self.sections if s.permission in mine}

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
            sess = await self.hub.store.run(lambda db: auth.session(db, sid, time.time())) if sid else None
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
        tags = "".join(f'<script src="/dash/section/{s.name}.js" defer></script>\n'
                       for s in self.sections if s.script is not None)
        text = text.replace(SCRIPTS_MARK, tags)
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

    async def section_script(self, request: web.Request) -> web.Response:
        """A role's page script, from its package (only the sections installed; no other file)."""
        name = request.match_info["name"]
        script = next((s.script for s in self.sections if s.name == name), None)
        if script is None:
            raise web.HTTPNotFound()
        package, path = script
        text = resources.files(package).joinpath(path).read_text(encoding="utf-8")
        return web.Response(text=text, content_type="application/javascript", charset="utf-8")

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
                "permissions": sorted(auth.PERMISSIONS[sess.role]),
                "sections": [[s.name, s.uk, s.en, s.permission] for s in self.sections]}

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
        data = await self.hub.store.run(lambda db: {"nodes": registry.list_nodes(db),
                                                    "discovered": registry.list_discovered(db)})
        for node in data["nodes"]:
            node["connected"] = node["node_id"] in self.hub.sockets
        return json_response(data)

    async def alerts(self, request: web.Request, sess: auth.Session) -> web.Response:
        q = request.query
        limit = query_int(request, "limit", 200, 1, 1000)
        return json_response({"alerts": await self.hub.store.run(lambda db: alerts.list_alerts(
            db, state=q.get("state", "open"), severity=q.get("severity") or None, site=q.get("site") or None,
            limit=limit))})

    async def overview(self, request: web.Request, sess: auth.Session) -> web.Response:
        def read(db: Any) -> dict[str, Any]:
            nodes = registry.list_nodes(db)
            sites: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for n in nodes:
                state = n["status"] if n["status"] != "approved" else ("online" if n["online"] else "offline")
                sites[n["site"]].append({"node_id": n["node_id"], "name": n["name"], "roles": n["roles"],
                                         "state": state, "last_seen": n["last_seen"]})
            counts = dict(db.execute("SELECT severity, count(*) FROM alerts WHERE cleared_at IS NULL"
                                          " GROUP BY severity").fetchall())
            return {"sites": [{"site": s, "nodes": v} for s, v in sorted(sites.items())],
                    "alerts_open": {k: counts.get(k, 0) for k in ("critical", "warning", "info")},
                    "events": recent_events(db, None, None, 20)}
        return json_response(await self.hub.store.run(read))

    async def node(self, request: web.Request, sess: auth.Session) -> web.Response:
        node_id = request.match_info["node_id"]

        def read(db: Any) -> dict[str, Any] | None:
            rows = [n for n in registry.list_nodes(db) if n["node_id"] == node_id]
            if not rows:
                return None
            return {"node": rows[0], "events": recent_events(db, node_id, None, 50),
                    "alerts": alerts.list_alerts(db, state="all", node_id=node_id, limit=50)}
        data = await self.hub.store.run(read)
        if data is None:
            raise error(404, "not_found", "Немає такого вузла / no such node")
        data["node"]["connected"] = node_id in self.hub.sockets
        return json_response(data)

    async def events(self, request: web.Request, sess: auth.Session) -> web.Response:
        kind = request.query.get("kind") or None
        limit = query_int(request, "limit", 100, 1, 2000)
        return json_response({"events": await self.hub.store.run(
            lambda db: recent_events(db, None, kind, limit))})

    # -- actions ------------------------------------------------------------------------------

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
            "pending": registry.list_nodes(db, "pending"), "discovered": registry.list_discovered(db)}))

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
        # A NaN lifetime made a code that never expired (now > NaN is false).
        ttl = finite_number(d, "ttl_s", self.hub.cfg.token_ttl_s, 60.0, 30 * 86_400.0)
        if (why := registry.check_token_roles(role)) is not None:
            raise error(400, "bad_request", f"Неправильні ролі / wrong roles: {why}")
        code, expires = await self.hub.store.write(lambda conn: registry.make_token(
            conn, self.hub.identity.fingerprint, site, role, ttl, pre_approved=bool(d.get("pre_approved")),
            note=str(d.get("note", ""))[:200], actor=sess.username))
        return json_response({"code": str(code), "expires": iso_utc(expires), "qr_svg": qr_svg(str(code))})

    # -- live ------------------------------------------------------------------------------------

    async def stream(self, request: web.Request, sess: auth.Session) -> web.StreamResponse:
        """Server-sent events: the names of what changed, so the page refetches it."""
        allowed = self._topics(sess)
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

