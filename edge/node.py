"""Runs the roles of one node in one asyncio loop.

The node owns what every role shares: the key, the database, the outbox, the
link to the hub, mDNS, the HTTP server with ``/health`` and ``/metrics``, and
the systemd watchdog. A role gets a :class:`RoleContext` with all of that,
adds its routes and migrations, and starts its own tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from edge import __version__, hubclient, outbox
from edge.clock import Clock
from edge.config import NodeConfig
from edge.discovery import NODE_SERVICE, Discovery, txt_properties
from edge.hubclient import HubClient
from edge.identity import Identity
from edge.metrics import CONTENT_TYPE, Metrics
from edge.outbox import Outbox, Priority
from edge.shutdown import ShutdownRunner
from edge.roles import factory_for
from edge.store import Store
from edge.tasks import cancel_and_wait
from edge.watchdog import Notifier, run_watchdog
from edge.web import MAX_BODY, Server, json_response, refusals

log = logging.getLogger("hromada.node")

NODE_MIGRATIONS = {"outbox": outbox.MIGRATIONS, "hubclient": hubclient.MIGRATIONS}


@dataclass(frozen=True, slots=True)
class RoleContext:
    """What a role receives from its node."""

    config: NodeConfig
    role_config: dict[str, Any]
    identity: Identity
    store: Store
    outbox: Outbox
    hub: HubClient
    metrics: Metrics
    app: web.Application
    discovery: Discovery | None

    @property
    def clock(self) -> Clock:
        """Now as this node shows it: corrected by the hub's clock, in ``[node] timezone``."""
        return Clock(self.config.node.timezone, lambda: self.hub.clock_offset_s)


class Role(Protocol):
    """The interface every role implements."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]: ...


class Node:
    """One node process."""

    def __init__(self, config: NodeConfig, notifier: Notifier | None = None) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.identity: Identity | None = None
        self.store: Store | None = None
        self.outbox: Outbox | None = None
        self.hub: HubClient | None = None
        self.discovery: Discovery | None = None
        self.roles: list[Role] = []
        self.started = False  # the roles have started: /health answers "ok" from then on
        self.metrics = Metrics({"node": config.node.name})
        self.app = web.Application(client_max_size=1024 * 1024, middlewares=[refusals])
        self.app[MAX_BODY] = 1024 * 1024
        self.app.router.add_get("/health", self._health)
        self.app.router.add_get("/metrics", self._metrics)
        self.server = Server(self.app, config.node.listen, config.node.port)
        self._tasks: list[asyncio.Task[Any]] = []
        self._started = time.monotonic()

    @property
    def id(self) -> str:
        assert self.identity is not None
        return self.identity.id

    async def start(self) -> None:
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.identity = Identity.load_or_create(cfg.state_dir)
        self.store = await Store.open(cfg.state_dir / "node.sqlite", NODE_MIGRATIONS)
        self.outbox = Outbox(
            self.store, batch_size=cfg.outbox.batch_size, max_rows=cfg.outbox.max_rows,
            backoff_initial_s=cfg.outbox.backoff_initial_s, backoff_max_s=cfg.outbox.backoff_max_s,
            keep_sent_s=cfg.outbox.keep_sent_s,
        )
        if cfg.discovery.enabled:
            self.discovery = Discovery(list(cfg.discovery.interfaces) or None)
            await self.discovery.start()
        self.hub = HubClient(cfg, self.identity, self.store, self.discovery, lambda: self.server.port,
                             lambda: self.outbox.stats.pending if self.outbox else 0)
        self.hub.on_hub_back.append(self.outbox.hub_is_back)
        self.hub.on_enqueued = self.outbox.wake
        # Every node obeys the hub's signed "shutdown" (a power plan's step); a role may take it over.
        self.shutdown = ShutdownRunner(cfg.node.shutdown_command)
        self.hub.command_handlers["shutdown"] = self.shutdown.handle
        await self.hub.load_state()
        self._setup_metrics()
        self.roles = await self._make_roles()
        self.hub.roles_health = lambda: {r.name: r.health() for r in self.roles}
        await self.server.start()
        log.info("node %s (%s) listening on %s, roles %s", self.identity.id, cfg.node.name, self.server.url,
                 ",".join(cfg.node.roles))
        for role in self.roles:
            await role.start()
        self.started = True
        await self.outbox.put("node.started", {"version": __version__, "roles": list(cfg.node.roles)}, Priority.EVENT)
        self._tasks = [
            asyncio.create_task(self.hub.run_enrollment(), name="enrollment"),
            asyncio.create_task(self.hub.run_heartbeats(), name="heartbeats"),
            asyncio.create_task(self.hub.run_websocket(), name="hub-websocket"),
            asyncio.create_task(self.outbox.run(self._send_batch, self.hub.approved.wait), name="outbox"),
            asyncio.create_task(run_watchdog(self.notifier, self.store.ping), name="watchdog"),
        ]
        if self.discovery is not None:
            await self.discovery.announce(
                NODE_SERVICE, cfg.node.name, self.server.port,
                txt_properties(self.identity.id, cfg.node.roles, __version__),
                list(cfg.discovery.advertise) or None,
            )
        self.notifier.ready(f"node {cfg.node.name} on {self.server.url}")

    async def _make_roles(self) -> list[Role]:
        roles: list[Role] = []
        assert self.identity and self.store and self.outbox and self.hub
        for name in self.config.node.roles:
            factory = factory_for(name)
            if factory is None:
                log.info("role %s has no implementation yet: running as a plain node", name)
                continue
            ctx = RoleContext(
                config=self.config, role_config=self.config.roles.get(name, {}), identity=self.identity,
                store=self.store, outbox=self.outbox, hub=self.hub, metrics=self.metrics, app=self.app,
                discovery=self.discovery,
            )
            roles.append(await factory(ctx))
        return roles

    def _setup_metrics(self) -> None:
        def collect() -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
            ob = self.outbox.stats if self.outbox else None
            hub = self.hub
            return [
                ("hromada_node_up", "gauge", "1 while the node runs.", [({}, 1)]),
                ("hromada_node_uptime_seconds", "gauge", "Seconds since start.", [({}, time.monotonic() - self._started)]),
                ("hromada_node_enrolled", "gauge", "1 when the hub approved this node.",
                 [({}, 1 if hub and hub.approved.is_set() else 0)]),
                ("hromada_node_hub_connected", "gauge", "1 while the hub WebSocket is open.",
                 [({}, 1 if hub and hub.connected.is_set() else 0)]),
                ("hromada_outbox_pending", "gauge", "Messages waiting for the hub.", [({}, ob.pending if ob else 0)]),
                ("hromada_outbox_sent_total", "counter", "Messages delivered to the hub.", [({}, ob.sent if ob else 0)]),
                ("hromada_outbox_dropped_total", "counter", "Telemetry dropped because the outbox was full.",
                 [({}, ob.dropped if ob else 0)]),
                ("hromada_outbox_rejected_total", "counter", "Messages the hub refused for good.",
                 [({}, ob.rejected if ob else 0)]),
                ("hromada_outbox_failures_total", "counter", "Failed delivery attempts.", [({}, ob.failures if ob else 0)]),
            ]
        self.metrics.collector(collect)
        self._m_send = self.metrics.histogram(
            "hromada_outbox_send_seconds", "Time to deliver one outbox batch to the hub (answered or failed).")

    async def _send_batch(self, messages: list[dict[str, Any]]) -> outbox.Delivery:
        assert self.hub is not None
        with self._m_send.time():
            return await self.hub.send_batch(messages)

    async def _health(self, request: web.Request) -> web.Response:
        assert self.store is not None and self.hub is not None and self.identity is not None
        if not self.started:
            # The server listens before the roles have started: "ok" now would send clients to a queue
            # or a hall that is not loaded yet (they got 503 "not ready" after a green health check).
            return json_response({"status": "starting", "name": self.config.node.name}, status=503)
        await self.store.ping()
        if self.outbox is not None:
            self.outbox.stats.pending = await self.outbox.pending_count()
        return json_response({
            "status": "ok",
            "id": self.identity.id,
            "name": self.config.node.name,
            "site": self.hub.site,
            "roles": list(self.config.node.roles),
            "version": __version__,
            "enrolled": self.hub.approved.is_set(),
            "enrollment": self.hub.state.get("status", "not enrolled"),
            "hub_connected": self.hub.connected.is_set(),
            "hub_url": self.hub.hub_url,
            "outbox_pending": self.outbox.stats.pending if self.outbox else None,
            "roles_health": {r.name: r.health() for r in self.roles},
        })

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.outbox is not None:
            self.outbox.stats.pending = await self.outbox.pending_count()
        return web.Response(text=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def stop(self) -> None:
        self.notifier.stopping()
        for role in reversed(self.roles):
            with contextlib.suppress(Exception):
                await role.stop()
        await cancel_and_wait(self._tasks)
        if self.discovery is not None:
            await self.discovery.close()
        if self.hub is not None:
            await self.hub.close()
        await self.server.stop()
        if self.store is not None:
            await self.store.close()


async def run_node(config: NodeConfig) -> None:
    """Run a node until SIGINT/SIGTERM."""
    from edge.runtime import run_until_signal

    node = Node(config)
    await run_until_signal(node.start, node.stop)
