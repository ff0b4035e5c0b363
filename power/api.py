"""The power role's network face: its HTTP API, /metrics, the NUT server, the hub's commands.

* ``GET /power/api/state`` — mains, UPS, generator, alarms, the shutdown plan's progress.
* ``GET /power/api/history?range=24h|7d`` — averaged readings for the graphs.
* ``GET /power/api/events?limit=N`` — the local event log, newest first.
* ``POST /power/api/command`` ``{"command": "start|stop|auto|reset-failure|service-done"}`` —
  a technician's command; needs the bearer token kept in ``power.token`` in the
  state directory (read-only routes are open, like ``/health``).
* Hub commands over the node's WebSocket: ``generator`` (the same commands) and
  ``shutdown`` (this node goes down; see :mod:`power.shutdown`).
* The UPS, read-only over the NUT protocol (:mod:`power.nutserver`), with FSD
  once the shutdown plan has begun.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge.web import error, json_response, parse_json, query_int, read_body
from power import history, records
from power.nutproto import UpsView
from power.nutserver import NutServer
from power.policy import Command, Phase
from power.service import PowerService

if TYPE_CHECKING:
    from power.sim import PowerSim

TOKEN_FILE = "power.token"


def command_token(state_dir: Path) -> str:
    """The technicians' command token, made on first use (mode 0600)."""
    path = state_dir / TOKEN_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def parse_command(value: Any) -> Command:
    try:
        return Command(str(value))
    except ValueError:
        raise ValueError(f"unknown command {value!r}; one of {', '.join(c.value for c in Command)}") from None


class PowerRole:
    """The `power` role: the service plus its routes, metrics and NUT server."""

    name = "power"

    def __init__(self, service: PowerService) -> None:
        self.service = service
        ctx = service.ctx
        self.ctx = ctx
        self.token = command_token(ctx.config.state_dir)
        s = service.settings
        self.nut: NutServer | None = None
        if s.nut_server and service.ups is not None:
            self.nut = NutServer(self.views, host=s.nut_listen, port=s.nut_port)
        self.sim: PowerSim | None = None  # with mock pins only (set by power.role)
        r = ctx.app.router
        r.add_get("/power/api/state", self.api_state)
        r.add_get("/power/api/history", self.api_history)
        r.add_get("/power/api/events", self.api_events)
        r.add_post("/power/api/command", self.api_command)
        ctx.hub.command_handlers["generator"] = self.hub_generator
        # Every node should answer "shutdown"; until edge/ does, a power node answers for itself.
        ctx.hub.command_handlers["shutdown"] = service.shutdown.handle
        ctx.metrics.collector(self.metrics)

    def views(self) -> dict[str, UpsView]:
        ups = self.service.ups
        return {} if ups is None else {ups.name: ups.view(self.service.fsd)}

    async def start(self) -> None:
        await self.service.start()
        if self.nut is not None:
            await self.nut.start()
        if self.sim is not None:
            await self.sim.start()

    async def stop(self) -> None:
        if self.sim is not None:
            await self.sim.stop()
        if self.nut is not None:
            await self.nut.stop()
        await self.service.stop()

    def health(self) -> dict[str, Any]:
        st = self.service.status()
        ups = st["ups"]
        variables = (ups or {}).get("variables") or {}
        return {"mains_present": st["mains_present"], "alerts": st["alerts"], "alarms": st["alarms"],
                "generator": st["generator"] and {k: st["generator"].get(k) for k in (
                    "phase", "running", "run_hours", "starts", "service", "fuel_percent")},
                "ups": ups and {**{k: ups[k] for k in ("name", "comms", "stale", "fsd")},
                                "status": variables.get("ups.status"), "charge": variables.get("battery.charge"),
                                "runtime_s": variables.get("battery.runtime"), "load": variables.get("ups.load"),
                                "estimated": ups.get("kind") == "q1"},
                "nut_port": self.nut.port if self.nut else None, "shutdown_requests": len(self.service.shutdown.requests)}

    # --- HTTP -----------------------------------------------------------------------

    async def api_state(self, request: web.Request) -> web.Response:
        return json_response(self.service.status())

    async def api_history(self, request: web.Request) -> web.Response:
        h = self.service.history
        span = request.query.get("range", "24h")
        if span not in ("24h", "7d"):
            raise error(400, "bad_range", "range: 24h або 7d / range must be 24h or 7d")
        step = h.fine if span == "24h" else h.coarse
        since = time.time() - h.keep_s(step)
        rows = await self.ctx.store.run(lambda db: history.query(db, step, since))
        return json_response({"range": span, "step_s": step, "rows": rows})

    async def api_events(self, request: web.Request) -> web.Response:
        limit = query_int(request, "limit", 50, 1, 500)
        events = await self.ctx.store.run(lambda db: records.recent_events(db, limit))
        return json_response({"events": events})

    async def api_command(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise error(401, "unauthorized", "потрібен токен техніка / the technician's token is required")
        body = parse_json(await read_body(request))
        if not isinstance(body, dict):
            raise error(400, "bad_request", "тіло має бути об'єктом JSON / the body must be a JSON object")
        try:
            command = parse_command(body.get("command"))
        except ValueError as exc:
            raise error(400, "unknown_command", str(exc)) from None
        if self.service.generator is None and command is not Command.SERVICE_DONE:
            raise error(409, "no_generator", "генератор не налаштовано / no generator is configured")
        return json_response(await self.service.command(command))

    async def hub_generator(self, args: dict[str, Any]) -> dict[str, Any]:
        """The hub's signed ``generator`` command: ``{"command": …}``."""
        status = await self.service.command(parse_command(args.get("command")))
        return {"phase": status["generator"]["phase"] if status["generator"] else None}

    # --- /metrics ---------------------------------------------------------------------

    def metrics(self) -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        svc = self.service
        st = svc.state
        out: list[tuple[str, str, str, list[tuple[dict[str, str], float]]]] = [
            ("hromada_power_mains_present", "gauge", "1 while mains is present.",
             [({}, 1.0 if svc.mains_present() else 0.0)]),
            ("hromada_power_alerts_open", "gauge", "Alerts this node has open at the hub.",
             [({}, float(len(svc.book.open)))]),
        ]
        ups = svc.ups
        if ups is not None:
            lab = {"ups": ups.name}
            current = ups.current()
            status = ups.state().status
            out += [
                ("hromada_power_ups_on_battery", "gauge", "1 while the UPS is on battery.",
                 [(lab, 1.0 if "OB" in status else 0.0)]),
                ("hromada_power_ups_low_battery", "gauge", "1 while the UPS reports low battery.",
                 [(lab, 1.0 if "LB" in status else 0.0)]),
                ("hromada_power_ups_data_stale", "gauge", "1 while there is no fresh UPS reading.",
                 [(lab, 0.0 if current is not None else 1.0)]),
                ("hromada_power_ups_comm_failures_total", "counter", "Failed UPS polls (garbled, silent, ERR).",
                 [(lab, float(ups.health.total_failures))]),
                ("hromada_power_ups_forced_shutdown", "gauge", "1 once the shutdown plan set FSD.",
                 [(lab, 1.0 if svc.fsd else 0.0)]),
            ]
            for key, value in sorted(svc.readings.items()):
                if key.startswith("ups_"):
                    out.append((f"hromada_power_{key}", "gauge", f"UPS reading {key[4:]}.", [(lab, value)]))
            if ups.last_poll_s is not None:
                out.append(("hromada_power_ups_poll_seconds", "gauge", "Duration of the last UPS poll.",
                            [(lab, ups.last_poll_s)]))
        gen = svc.generator
        if gen is not None and st is not None:
            out += [
                ("hromada_power_generator_running", "gauge", "1 while the running feedback is active.",
                 [({}, 1.0 if gen.running else 0.0)]),
                ("hromada_power_generator_phase", "gauge", "1 for the policy's current phase.",
                 [({"phase": str(p)}, 1.0 if st.phase is p else 0.0) for p in Phase]),
                ("hromada_power_generator_run_hours_total", "counter", "Run-hours counted from the running input.",
                 [({}, st.counters.run_s / 3600)]),
                ("hromada_power_generator_starts_total", "counter", "Start commands given.",
                 [({}, float(st.counters.starts))]),
                ("hromada_power_generator_alarms", "gauge", "Generator alarms raised.",
                 [({"alarm": str(a)}, 1.0) for a in sorted(st.alarms)]),
            ]
            for key in ("fuel_percent", "gen_battery_v", "gen_frequency_hz"):
                if key in svc.readings:
                    out.append((f"hromada_power_{key}", "gauge", f"Generator reading {key}.",
                                [({}, svc.readings[key])]))
            if gen.timeouts is not None:  # a controller on a bus
                out.append(("hromada_power_modbus_timeouts_total", "counter", "Modbus requests that timed out.",
                            [({}, float(gen.timeouts))]))
        return out
