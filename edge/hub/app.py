"""The hub: enrollment, signed ingest, heartbeats, alerts, the node WebSocket.

Every node→hub request is signed by the node's key (see ``edge.identity``)
and every answer is signed by the hub's key, which the node pinned when it
enrolled. A stale, replayed, unsigned, unknown or revoked request is refused
with 401/403 and a reason, and nothing is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from edge import __version__
from edge.config import HubConfig
from edge.discovery import HUB_SERVICE, NODE_SERVICE, Discovery, Peer, txt_properties
from edge.hub import alerts, ingest, registry
from edge.hub.openapi import openapi_document
from edge.hub.dashboard import Dashboard
from edge.hub.extensions import HubExtension
from edge.hub.notify import AlertNotifier
from edge.hub.schema import MIGRATIONS
from edge.hub.throttle import Throttle
from edge.identity import H_NONCE, Identity, SignatureError, SignedRequest, check_request, open_sealed, seal
from edge.metrics import CONTENT_TYPE, Metrics
from edge.roles import HUB_EXTENSIONS, load
from edge.store import Store
from edge.tasks import cancel_and_wait
from edge.timeutil import iso_utc
from edge.watchdog import Notifier, run_watchdog
from edge.web import MAX_BODY, Server, error, json_response, parse_json, read_body, refusals

log = logging.getLogger("hromada.hub")

# Failed enrollments one address may make per minute before it must wait (codes cannot be guessed quickly).
ENROLL_FAILURES_PER_MINUTE = 10


class Hub:
    """One hub process: its key, its database, its HTTP server, its tasks."""

    def __init__(self, config: HubConfig, notifier: Notifier | None = None) -> None:
        self.config = config
        self.cfg = config.hub
        self.notifier = notifier or Notifier()
        self.identity: Identity | None = None
        self.store: Store | None = None
        self.discovery: Discovery | None = None
        self.metrics = Metrics()
        self.sockets: dict[str, web.WebSocketResponse] = {}
        # command id -> (the node asked, its reply); a reply counts only from that node's socket, sealed by its key
        self._pending_replies: dict[str, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._rosters: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Future[Any]] = set()
        self.ingest_handlers: dict[str, ingest.Handler] = {}
        self.senders = ingest.Senders()
        self._enroll_failures = Throttle(ENROLL_FAILURES_PER_MINUTE)
        self.migrations: dict[str, Any] = dict(MIGRATIONS)
        self.extensions: dict[str, HubExtension] = {}
        self.app = self._make_app()
        self.dashboard = Dashboard(self)
        for target in HUB_EXTENSIONS:
            load(target)(self)
        self.server = Server(self.app, self.cfg.listen, self.cfg.port)
        self._m_events = self.metrics.counter("hromada_hub_events_stored_total", "Messages stored from nodes.")
        self._m_dups = self.metrics.counter("hromada_hub_events_duplicate_total", "Messages received again and ignored.")
        self._m_refused = self.metrics.counter("hromada_hub_requests_refused_total", "Requests refused, by reason.",
                                               ["reason"])
        self._m_ingest = self.metrics.histogram("hromada_hub_ingest_seconds",
                                                "Time to check and store one ingest batch in the database.")
        self.metrics.collector(self._collect)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        state = self.config.state_dir
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.identity = Identity.load_or_create(state, "hub.key", prefix="h")
        self.store = await Store.open(state / "hub.sqlite", self.migrations)
        await self.server.start()
        log.info("hub %s listening on %s (key fingerprint %s)", self.identity.id, self.server.url, self.identity.fingerprint)
        self._tasks = [
            asyncio.create_task(self._watch_heartbeats(), name="heartbeats"),
            asyncio.create_task(self._watch_rosters(), name="rosters"),
            asyncio.create_task(self._forget_nonces(), name="nonces"),
            asyncio.create_task(run_watchdog(self.notifier, self.store.ping), name="watchdog"),
            asyncio.create_task(AlertNotifier(self, self.config.notify).run(), name="notify"),
        ]
        if self.config.discovery.enabled:
            await self._start_discovery()
        self.notifier.ready(f"hub on {self.server.url}")

    async def _start_discovery(self) -> None:
        assert self.identity is not None
        self.discovery = Discovery(list(self.config.discovery.interfaces) or None)
        await self.discovery.start()
        self.discovery.on_change(self._on_peer)
        await self.discovery.browse(NODE_SERVICE)
        props = txt_properties(self.identity.id, ("hub",), __version__)
        props["fp"] = self.identity.fingerprint
        await self.discovery.announce(
            HUB_SERVICE, self.cfg.name, self.server.port, props, list(self.config.discovery.advertise) or None
        )

    async def stop(self) -> None:
        self.notifier.stopping()
        await cancel_and_wait(self._tasks)
        for ws in list(self.sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"hub stopping")
        if self.discovery is not None:
            await self.discovery.close()
        await self.server.stop()
        if self.store is not None:
            await self.store.close()

    @property
    def url(self) -> str:
        return self.server.url

    # -- what the roles add --------------------------------------------------

    def install(self, extension: HubExtension) -> bool:
        """Add a role's tables, ingest handlers, dashboard sections and routes, and background work.

        Before ``start`` only (the migrations run and the routes freeze there).
        An extension is installed once by name: asking again (``HUB_EXTENSIONS``
        and a test, say) changes nothing and returns False.
        """
        if self.store is not None:
            raise RuntimeError(f"hub extension {extension.name!r} installed after the hub started")
        if extension.name in self.extensions:
            return False
        clash = (set(extension.migrations) & set(self.migrations)) or (set(extension.ingest) & set(self.ingest_handlers))
        if clash:
            raise ValueError(f"hub extension {extension.name!r} redefines {sorted(clash)}")
        self.extensions[extension.name] = extension
        self.migrations.update({k: list(v) for k, v in extension.migrations.items()})
        self.ingest_handlers.update(extension.ingest)
        for kind, roles in extension.senders.items():
            self.senders.add(kind, roles)
        for section in extension.sections:
            self.dashboard.add_section(section)
        for route in extension.dashboard_routes:
            self.dashboard.add_route(route)
        for method, path, handler in extension.public_routes:
            self.app.router.add_route(method, path, handler)
        self.app.on_startup.extend(extension.on_startup)
        self.app.on_cleanup.extend(extension.on_cleanup)
        log.debug("hub extension %s installed", extension.name)
        return True

    # -- application --------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.cfg.max_body_bytes, middlewares=[self._errors, refusals])
        app[MAX_BODY] = self.cfg.max_body_bytes
        r = app.router
        r.add_get("/health", self.health)
        r.add_get("/metrics", self.metrics_text)
        r.add_get("/api/v1/openapi.json", self.openapi)
        r.add_get("/api/v1/time", self.time)
        r.add_post("/api/v1/enroll", self.enroll)
        r.add_post("/api/v1/heartbeat", self.heartbeat)
        r.add_post("/api/v1/ingest", self.ingest)
        r.add_get("/api/v1/ws", self.websocket)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400:
                reason = "other"
                with contextlib.suppress(Exception):
                    reason = json.loads(exc.text or "{}")["error"]["code"]
                self._m_refused.labels(reason=reason).inc()
                log.info("refused %s %s from %s: %s %s", request.method, request.path, request.remote, exc.status,
                         exc.text)
                if request.path.startswith("/api/v1/") and self.identity is not None:
                    # Refusals are signed too, so a node believes "revoked" only from its hub.
                    body = (exc.text or "").encode("utf-8")
                    headers = self.identity.sign_response(request.headers.get(H_NONCE, ""), exc.status, body,
                                                          time.time())
                    kept = {k: v for k, v in exc.headers.items()  # Retry-After, WWW-Authenticate
                            if k.lower() not in ("content-type", "content-length") and k not in headers}
                    return web.Response(body=body, status=exc.status, content_type="application/json",
                                        headers={**kept, **headers})
            raise

    # -- signed requests ------------------------------------------------------

    async def _authenticate(
        self, request: web.Request, body: bytes, allow: set[registry.NodeStatus], enrolling_key: str | None = None
    ) -> tuple[SignedRequest, str]:
        """Check signature, freshness, replay and the node's status; return (signed, site).

        The nonce is recorded only for a request that passed every other
        check, so garbage cannot fill the nonce table.
        """
        assert self.store is not None
        signer = request.headers.get("X-Hromada-Node", "")
        known = await self.store.run(lambda db: _node_row(db, signer)) if signer else None

        def key_of(node_id: str) -> str | None:
            if known is not None:
                return known[0]
            return enrolling_key

        try:
            signed = check_request(
                request.headers, request.method, request.path_qs, body, key_of, time.time(), self.cfg.max_clock_skew_s
            )
        except SignatureError as exc:
            code = "unknown_node" if exc.status == 403 else "signature"
            raise error(exc.status, code, exc.reason) from None
        if known is not None:
            status = registry.NodeStatus(known[1])
            if status not in allow:
                code = {"pending": 403, "rejected": 403, "revoked": 403}.get(status.value, 403)
                raise error(code, f"node_{status.value}", f"node is {status.value}")
        elif enrolling_key is None:
            raise error(403, "unknown_node", "unknown node: enroll first")

        def remember(conn: Any) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO nonces (node_id, nonce, ts) VALUES (?, ?, ?)",
                (signed.signer, signed.nonce, signed.timestamp),
            )
            return cur.rowcount == 1

        if not await self.store.write(remember):
            raise error(401, "replay", "nonce already used (replayed request)")
        return signed, (known[2] if known is not None else "")

    def _signed_reply(self, request: web.Request, data: Any, status: int = 200) -> web.Response:
        assert self.identity is not None
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        headers = self.identity.sign_response(request.headers.get(H_NONCE, ""), status, body, time.time())
        return web.Response(body=body, status=status, content_type="application/json", headers=headers)

    # -- handlers ------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        assert self.store is not None
        await self.store.ping()
        return json_response({"status": "ok", "role": "hub", "id": self.identity.id if self.identity else None,
                              "version": __version__})

    async def metrics_text(self, request: web.Request) -> web.Response:
        assert self.store is not None
        self._snapshot = await self.store.run(lambda db: _counts(db))
        return web.Response(text=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    def _collect(self) -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        snap = getattr(self, "_snapshot", None) or {"status": {}, "online": 0, "alerts": {}}
        return [
            ("hromada_hub_nodes", "gauge", "Enrolled nodes by status.",
             [({"status": k}, v) for k, v in snap["status"].items()]),
            ("hromada_hub_nodes_online", "gauge", "Approved nodes whose heartbeats arrive.", [({}, snap["online"])]),
            ("hromada_hub_alerts_open", "gauge", "Open alerts by severity.",
             [({"severity": k}, v) for k, v in snap["alerts"].items()]),
            ("hromada_hub_websockets", "gauge", "Nodes connected over the WebSocket.", [({}, len(self.sockets))]),
        ]

    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(openapi_document(__version__))

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"time": time.time(), "iso": iso_utc()})

    async def enroll(self, request: web.Request) -> web.Response:
        assert self.store is not None
        body = await read_body(request)
        data = parse_json(body)
        try:
            req = registry.EnrollRequest.from_json(data)
        except registry.EnrollmentError as exc:
            raise error(exc.status, "bad_request", exc.reason) from None
        if request.headers.get("X-Hromada-Node") != req.node_id:
            raise error(401, "signature", "enrollment must be signed by the key it enrolls")
        address = request.remote or "?"
        if self._enroll_failures.full(address, time.time()):
            # Guessing codes from one address: wait. Boards that enroll rightly are never counted.
            raise error(429, "too_many", "Забагато невдалих спроб реєстрації, зачекайте хвилину",
                        {"Retry-After": str(int(self._enroll_failures.window_s))},
                        message_en="too many failed enrollment attempts from this address; wait a minute")
        await self._authenticate(request, body, set(registry.NodeStatus), enrolling_key=req.public_key)
        try:
            status = await self.store.write(lambda conn: registry.enroll(conn, req, request.remote or ""))
        except registry.EnrollmentError as exc:
            self._enroll_failures.count(address, time.time())
            if exc.alert is not None:  # the refused attempt stored nothing; the technicians hear of it
                where, uk, en = exc.alert
                await self.store.write(lambda conn: alerts.raise_alert(
                    conn, f"security.enrollment:{req.node_id}", "security.enrollment", alerts.Severity.CRITICAL,
                    uk, en, site=where))
                self.dashboard.publish("alerts")
            raise error(exc.status, "enrollment", exc.reason) from None
        site = await self.store.run(lambda db: db.execute(
            "SELECT site FROM nodes WHERE node_id = ?", (req.node_id,)).fetchone()[0])
        log.info("node %s (%s) enrollment: %s", req.node_id, req.name, status.value)
        self.dashboard.publish("enrollment", "nodes")
        assert self.identity is not None
        return self._signed_reply(request, {
            "status": status.value,
            "site": site,
            "hub_id": self.identity.id,
            "hub_key": self.identity.public_key_b64,
            "heartbeat_interval_s": self.cfg.heartbeat_interval_s,
        })

    async def heartbeat(self, request: web.Request) -> web.Response:
        assert self.store is not None
        body = await read_body(request)
        signed, site = await self._authenticate(request, body, {registry.NodeStatus.APPROVED})
        data = parse_json(body)
        if not isinstance(data, dict) or not isinstance(data.get("health", {}), dict):
            raise error(400, "bad_request", "heartbeat body must be an object with a health object")
        health = data.get("health", {})
        version = str(health.get("version", ""))[:32]
        offset = health.get("clock_offset_s")
        offset = float(offset) if isinstance(offset, (int, float)) and not isinstance(offset, bool) else None
        port = data.get("port")
        port = int(port) if isinstance(port, int) and 0 < port < 65536 else None
        now = time.time()
        node_id = signed.signer

        def beat(conn: Any) -> bool:
            was = conn.execute("SELECT online, name FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
            conn.execute(
                "UPDATE nodes SET online = 1, last_seen = ?, last_seen_ts = ?, health = ?, version = ?,"
                " clock_offset_s = ?, address = ?, port = COALESCE(?, port) WHERE node_id = ?",
                (iso_utc(now), now, _health_text(health), version, offset,
                 request.remote, port, node_id),
            )
            alerts.clear_alert(conn, f"node-offline:{node_id}")
            return not was[0]

        if await self.store.write(beat):
            log.info("node %s is online", node_id)
            self.dashboard.publish("nodes", "alerts")
        return self._signed_reply(request, {
            "hub_time": now,
            "heartbeat_interval_s": self.cfg.heartbeat_interval_s,
        })

    async def ingest(self, request: web.Request) -> web.Response:
        assert self.store is not None
        body = await read_body(request)
        signed, site = await self._authenticate(request, body, {registry.NodeStatus.APPROVED})
        data = parse_json(body)
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise error(400, "bad_request", 'body must be {"messages": [...]}')
        messages = data["messages"]
        if len(messages) > self.cfg.max_batch:
            raise error(413, "too_many", f"at most {self.cfg.max_batch} messages per request")
        handlers, senders = self.ingest_handlers, self.senders

        def store(conn: Any) -> ingest.IngestResult:
            row = conn.execute("SELECT roles FROM nodes WHERE node_id = ?", (signed.signer,)).fetchone()
            roles = [r for r in (row[0] if row else "").split(",") if r]
            return ingest.store_batch(conn, signed.signer, site, messages, handlers, roles=roles, senders=senders)

        with self._m_ingest.time():
            result = await self.store.write(store)
        self._m_events.inc(result.stored)
        self._m_dups.inc(result.duplicates)
        if result.stored:
            kinds = {str(m.get("kind")) for m in messages if isinstance(m, dict)}
            self.dashboard.publish("events", *(["alerts"] if "alert" in kinds else []),
                                   *self.dashboard.topics_of(kinds))
        if result.forbidden:
            log.warning("node %s sent kinds its roles do not send: %s (refused)", signed.signer,
                        ", ".join(sorted(set(result.forbidden))))
            self.dashboard.publish("alerts")
        return self._signed_reply(request, {
            "stored": result.stored,
            "duplicates": result.duplicates,
            "rejected": [{"msg_id": k, "reason": v} for k, v in result.rejected.items()],
        })

    # -- WebSocket to nodes -------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        signed, site = await self._authenticate(request, b"", {registry.NodeStatus.APPROVED})
        node_id = signed.signer
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1024 * 1024)
        await ws.prepare(request)
        old = self.sockets.pop(node_id, None)
        if old is not None:
            await old.close(code=4000, message=b"replaced by a newer connection")
        self.sockets[node_id] = ws
        log.info("node %s connected over WebSocket", node_id)
        try:
            await self._send(ws, {"type": "hello", "hub_time": time.time()})
            await self._send_roster(ws, node_id, site)
            row = await self.store.run(lambda db: _node_row(db, node_id))
            node_key = row[0] if row else ""
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = open_sealed(node_key, msg.data)
                except SignatureError as exc:
                    log.warning("node %s: dropping a WebSocket message: %s", node_id, exc)
                    continue
                if data.get("type") == "reply":
                    pending = self._pending_replies.get(str(data.get("id")))
                    if pending is None or pending[0] != node_id:
                        log.warning("node %s answered a command it was not asked (%s)", node_id, data.get("id"))
                        continue
                    del self._pending_replies[str(data["id"])]
                    if not pending[1].done():
                        pending[1].set_result(data)
        finally:
            if self.sockets.get(node_id) is ws:
                del self.sockets[node_id]
                self._rosters.pop(node_id, None)
            log.info("node %s WebSocket closed", node_id)
        return ws

    async def _send(self, ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
        assert self.identity is not None
        message = {**message, "ts": time.time()}
        await ws.send_str(seal(self.identity, message))

    async def _send_roster(self, ws: web.WebSocketResponse, node_id: str, site: str,
                           peers: list[dict[str, Any]] | None = None) -> None:
        assert self.store is not None
        if peers is None:
            peers = await self.store.run(lambda db: registry.roster(db, site))
        self._rosters[node_id] = json.dumps(peers, sort_keys=True)
        await self._send(ws, {"type": "roster", "site": site, "peers": peers})

    async def send_command(self, node_id: str, name: str, args: dict[str, Any] | None = None,
                           timeout: float = 10.0) -> dict[str, Any]:
        """Send a signed command to a connected node and wait for its reply."""
        ws = self.sockets.get(node_id)
        if ws is None:
            raise LookupError(f"node {node_id} is not connected")
        cmd_id = str(uuid.uuid4())
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_replies[cmd_id] = (node_id, fut)
        try:
            # Bound to its target: any other node refuses it; the id is its nonce (a replay is refused).
            await self._send(ws, {"type": "command", "id": cmd_id, "to": node_id, "name": name, "args": args or {}})
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending_replies.pop(cmd_id, None)

    # -- background tasks ------------------------------------------------------------------

    async def _watch_heartbeats(self) -> None:
        """Mark nodes offline after the configured missed heartbeats, and raise an alert."""
        assert self.store is not None
        limit = self.cfg.heartbeat_interval_s * self.cfg.offline_after_missed
        while True:
            await asyncio.sleep(min(1.0, self.cfg.heartbeat_interval_s / 2))
            cutoff = time.time() - limit

            def sweep(conn: Any) -> list[tuple[str, str]]:
                rows = conn.execute(
                    "SELECT node_id, name, site FROM nodes WHERE status = 'approved' AND online = 1"
                    " AND last_seen_ts < ?", (cutoff,)).fetchall()
                for node_id, name, site in rows:
                    conn.execute("UPDATE nodes SET online = 0 WHERE node_id = ?", (node_id,))
                    alerts.raise_alert(
                        conn, f"node-offline:{node_id}", "node-offline", alerts.Severity.WARNING,
                        f"Вузол «{name}» не на зв'язку: пропущено {self.cfg.offline_after_missed} сигнали життя",
                        f"Node '{name}' is offline: {self.cfg.offline_after_missed} heartbeats missed",
                        node_id=node_id, site=site)
                return [(r[0], r[1]) for r in rows]

            try:
                gone = await self.store.write(sweep)
                if gone:
                    self.dashboard.publish("nodes", "alerts")
                for node_id, name in gone:
                    log.warning("node %s (%s) missed %d heartbeats: offline", node_id, name,
                                self.cfg.offline_after_missed)
            except Exception:
                log.exception("heartbeat sweep failed")

    async def _watch_rosters(self) -> None:
        """Push a site's roster when it changes; drop sockets of nodes no longer approved."""
        assert self.store is not None
        while True:
            await asyncio.sleep(1.0)
            if not self.sockets:
                continue
            try:
                ids = list(self.sockets)
                info = await self.store.run(lambda db: {
                    nid: db.execute("SELECT status, site FROM nodes WHERE node_id = ?", (nid,)).fetchone()
                    for nid in ids})
                sites = {row[1] for row in info.values() if row}
                rosters = await self.store.run(lambda db: {s: registry.roster(db, s) for s in sites})
                for nid, row in info.items():
                    ws = self.sockets.get(nid)
                    if ws is None:
                        continue
                    if row is None or row[0] != "approved":
                        log.warning("closing WebSocket of node %s: %s", nid, row[0] if row else "unknown")
                        await ws.close(code=4003, message=b"node no longer approved")
                        continue
                    if self._rosters.get(nid) != json.dumps(rosters[row[1]], sort_keys=True):
                        await self._send_roster(ws, nid, row[1], rosters[row[1]])
            except Exception:
                log.exception("roster watch failed")

    async def _forget_nonces(self) -> None:
        assert self.store is not None
        while True:
            await asyncio.sleep(60.0)
            cutoff = time.time() - 2 * self.cfg.max_clock_skew_s
            with contextlib.suppress(Exception):
                await self.store.write(lambda conn: conn.execute("DELETE FROM nonces WHERE ts < ?", (cutoff,)))

    def _on_peer(self, service_type: str, peer: Peer | None, instance: str) -> None:
        if peer is None or service_type != NODE_SERVICE or self.store is None:
            return

        def record(conn: Any) -> None:
            conn.execute(
                "INSERT INTO discovered (node_id, instance, roles, version, addresses, port, seen_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET instance = excluded.instance,"
                " roles = excluded.roles, version = excluded.version, addresses = excluded.addresses,"
                " port = excluded.port, seen_at = excluded.seen_at",
                (peer.id, peer.instance, ",".join(peer.roles), peer.version, ",".join(peer.addresses), peer.port,
                 iso_utc()),
            )

        task = asyncio.ensure_future(self.store.write(record))
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _node_row(conn: Any, node_id: str) -> tuple[str, str, str] | None:
    row = conn.execute("SELECT public_key, status, site FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def _counts(conn: Any) -> dict[str, Any]:
    return {
        "status": dict(conn.execute("SELECT status, count(*) FROM nodes GROUP BY status").fetchall()),
        "online": conn.execute("SELECT count(*) FROM nodes WHERE status = 'approved' AND online = 1").fetchone()[0],
        "alerts": dict(conn.execute(
            "SELECT severity, count(*) FROM alerts WHERE cleared_at IS NULL GROUP BY severity").fetchall()),
    }


async def run_hub(config: HubConfig) -> None:
    """Run a hub until SIGINT/SIGTERM."""
    from edge.runtime import run_until_signal

    hub = Hub(config)
    await run_until_signal(hub.start, hub.stop)


def _health_text(health: dict[str, Any]) -> str:
    """A node's health as stored: whole JSON, or without the roles' part when it is too large."""
    text = json.dumps(health, ensure_ascii=False, default=str)
    if len(text) > 64 * 1024:
        text = json.dumps({k: v for k, v in health.items() if k != "roles"}, ensure_ascii=False, default=str)
    return text[: 64 * 1024] if len(text) <= 64 * 1024 else "{}"
