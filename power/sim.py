"""The power room simulated on mock pins: the grid, the UPS, the generator; /sim routes; the demo.

* :class:`PowerSim` — the simulated grid at the mains sensor, the simulated
  set behind the relays, and the simulated Q1 UPS (``ups.url = "sim"``),
  coupled as in a real room: the UPS runs on its battery while neither the
  grid nor the loaded generator feeds it.
* :func:`simulated_ups` — that UPS, started on a pty of its own.
* :func:`add_sim_routes` — ``POST /sim/mains``, ``POST /sim/ups``,
  ``POST /sim/generator``, ``GET /sim/state``, so tests in other processes can
  play the grid and the faults. Only with ``gpio.pin_factory = "mock"``.
* :class:`Scenario` — the demo: a blackout, the generator's start, the grid's
  return and cool-down, then a low-battery shutdown warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge.web import error, json_response, parse_json, read_body
from power.hardware import WiredGenerator
from power.policy import Command, Phase, PolicyEvent
from power.sim_generator import SimulatedFuelSender, SimulatedGenerator, SimulatedMains
from power.sim_ups import BLACKOUT_SCRIPT, Garble, SimState, SimulatedQ1Ups, SimUpsConfig

if TYPE_CHECKING:
    from power.service import PowerService

log = logging.getLogger("hromada.power.sim")

_COUPLE_S = 0.05


def simulated_ups() -> SimulatedQ1Ups:
    """The UPS of ``ups.url = "sim"``, started: two 12 V blocks (the sim's defaults); the demo drains it in a few minutes."""
    return SimulatedQ1Ups(SimUpsConfig(discharge_s=240.0, recharge_s=600.0)).start()


class PowerSim:
    """The simulated world around one power role.

    ``wired``: the role's generator when it is wired to the board (its mock
    pins are driven by a simulated set); ``ups``: the simulated unit when
    ``ups.url = "sim"``; ``fuel_sender``: the simulated level sender.
    """

    def __init__(self, service: PowerService, *, wired: WiredGenerator | None = None,
                 ups: SimulatedQ1Ups | None = None, fuel_sender: SimulatedFuelSender | None = None) -> None:
        svc = service
        self.service = svc
        self.mains = SimulatedMains(svc.mains) if svc.mains is not None else None
        self.grid = True
        self.generator = SimulatedGenerator(wired, fuel=fuel_sender) if wired is not None else None
        self.ups = ups
        self.ups_override = False  # a /sim/ups state holds until the grid changes again
        self.scenario: Scenario | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.generator is not None:
            self.generator.start()
        if self.ups is not None:
            self._task = asyncio.create_task(self._couple(), name="sim-power-coupling")
        if self.service.settings.scenario == "demo":
            self.scenario = Scenario(self)
            self.scenario.start()

    async def stop(self) -> None:
        if self.scenario is not None:
            await self.scenario.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.generator is not None:
            await self.generator.stop()

    def set_grid(self, present: bool) -> None:
        self.grid, self.ups_override = present, False
        if self.mains is not None:
            self.mains.restore() if present else self.mains.cut()

    def ups_fed(self) -> bool:
        """Grid, or a running generator that carries the load (after its warm-up)."""
        gen = self.generator
        on_generator = gen is not None and gen.running and not gen.no_output and \
            self.service.state is not None and self.service.state.phase is Phase.RUNNING
        return self.grid or on_generator

    async def _couple(self) -> None:
        assert self.ups is not None
        while True:
            await asyncio.sleep(_COUPLE_S)
            if self.ups_override:
                continue
            fed, state = self.ups_fed(), self.ups.state
            if fed and state is not SimState.ON_LINE:
                self.ups.go(SimState.ON_LINE)
            elif not fed and state is SimState.ON_LINE:
                self.ups.go(SimState.ON_BATTERY)

    def state(self) -> dict[str, Any]:
        return {"grid": self.grid,
                "generator": None if self.generator is None else {
                    **self.generator.state(), "relays": self.generator.generator.relays.closed()},
                "ups": None if self.ups is None else {"state": str(self.ups.state), "override": self.ups_override,
                                                      "received": list(self.ups.received)[-10:]},
                "shutdown_requests": list(self.service.shutdown.requests)}


def add_sim_routes(app: web.Application, sim: PowerSim) -> None:
    """The simulator's control routes (added by the factory only on mock pins)."""

    async def body_of(request: web.Request) -> dict[str, Any]:
        body = parse_json(await read_body(request))
        if not isinstance(body, dict):
            raise error(400, "bad_request", "тіло має бути об'єктом JSON / the body must be a JSON object")
        return body

    async def mains(request: web.Request) -> web.Response:
        present = (await body_of(request)).get("present")
        if not isinstance(present, bool):
            raise error(400, "bad_request", "present: true або false / present must be true or false")
        sim.set_grid(present)
        return json_response(sim.state())

    async def ups(request: web.Request) -> web.Response:
        body = await body_of(request)
        if sim.ups is None:
            raise error(409, "no_simulated_ups", "ДБЖ не імітований / the UPS is not simulated (ups.url = \"sim\")")
        try:
            if "state" in body:
                sim.ups.go(SimState(body["state"]))
                sim.ups_override = True
            if "script" in body:
                if body["script"] != "blackout":
                    raise ValueError("script must be \"blackout\"")
                sim.ups.play(BLACKOUT_SCRIPT)
                sim.ups_override = True
            if "garble" in body:
                kind = body["garble"]
                count = body.get("count")
                if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
                    raise ValueError("count must be a positive whole number or null")
                sim.ups.garble(None if kind is None else Garble(kind), count)
            if "charge" in body:
                sim.ups.set_charge(float(body["charge"]))
        except (ValueError, TypeError) as exc:
            raise error(400, "bad_request", str(exc)) from None
        return json_response(sim.state())

    async def generator(request: web.Request) -> web.Response:
        body = await body_of(request)
        if sim.generator is None:
            raise error(409, "no_simulated_generator", "генератор не імітований / no wired generator to simulate")
        fail, always, no_output = body.get("fail_starts"), body.get("always_fail"), body.get("no_output")
        if fail is not None and (not isinstance(fail, int) or isinstance(fail, bool) or fail < 0):
            raise error(400, "bad_request", "fail_starts: ціле ≥ 0 / fail_starts must be a whole number ≥ 0")
        if any(v is not None and not isinstance(v, bool) for v in (always, no_output)):
            raise error(400, "bad_request", "always_fail, no_output: true або false / must be true or false")
        sim.generator.configure(fail_starts=fail, always_fail=always, no_output=no_output)
        return json_response(sim.state())

    async def state(request: web.Request) -> web.Response:
        return json_response(sim.state())

    app.router.add_post("/sim/mains", mains)
    app.router.add_post("/sim/ups", ups)
    app.router.add_post("/sim/generator", generator)
    app.router.add_get("/sim/state", state)


class Scenario:
    """The demo's power room, played once: blackout, generator, grid back, then a low-battery warning.

    ``pace`` scales the pauses (tests run it faster). The policy's timings
    come from the demo's configuration (short ones, see ``power.demo``).
    """

    def __init__(self, sim: PowerSim, pace: float = 1.0) -> None:
        self.sim, self.pace = sim, pace
        self._task: asyncio.Task[None] | None = None
        self.chapter = "calm"

    def start(self) -> None:
        self._task = asyncio.create_task(self._play(), name="power-demo")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _until(self, check: Any, limit_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s * self.pace
        while not check() and loop.time() < deadline:
            await asyncio.sleep(0.2)

    async def _play(self) -> None:
        sim, svc = self.sim, self.sim.service
        await asyncio.sleep(15 * self.pace)
        self._tell("blackout", "Демо: зникла мережа", "Demo: blackout")
        sim.set_grid(False)
        await self._until(lambda: svc.state.phase is Phase.RUNNING, 90)
        await asyncio.sleep(30 * self.pace)
        self._tell("grid-back", "Демо: мережу відновлено", "Demo: the grid is back")
        sim.set_grid(True)
        await self._until(lambda: svc.state.phase is Phase.STOPPED, 120)
        await asyncio.sleep(15 * self.pace)
        self._tell("low-battery", "Демо: мережі немає, генератор не заводиться, ДБЖ розряджається",
                   "Demo: no grid, the generator fails to start, the UPS runs low")
        if sim.generator is not None:
            sim.generator.configure(always_fail=True)
        sim.set_grid(False)
        await self._until(lambda: PolicyEvent.GEN_FAIL in svc.state.alarms, 120)
        if sim.ups is not None:
            sim.ups.go(SimState.LOW_BATTERY)
            sim.ups_override = True
        await self._until(lambda: svc.state.shutdown_since is not None, 30)
        await asyncio.sleep(45 * self.pace)
        self._tell("recovered", "Демо: мережу відновлено після попередження", "Demo: the grid returns after the warning")
        if sim.generator is not None:
            sim.generator.configure(always_fail=False)
        sim.set_grid(True)
        await svc.command(Command.RESET_FAILURE)
        self.chapter = "done"

    def _tell(self, chapter: str, uk: str, en: str) -> None:
        self.chapter = chapter
        log.info("%s / %s", uk, en)
