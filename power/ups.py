"""The UPS a power node watches, whichever way it is reached: each a :class:`power.hardware.Ups`.

:class:`Q1Source` drives a Megatec Q1 unit through :class:`power.q1driver.AsyncQ1Driver`
(with ``url = "sim"``, the role's composition root hands it the
:class:`power.sim_ups.SimulatedQ1Ups` it started on a pty, for the demo);
:class:`NutSource` reads any ``upsd`` through :class:`power.nutclient.NutPoller`.
Both give the policy a :class:`power.status.UpsState`, the NUT server a
:class:`power.nutproto.UpsView`, and the service (``on_events``) the events
of each poll.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Mapping

from power.hardware import OnEvents, Ups
from power.nutclient import NutPoller, NutPollerConfig
from power.nutproto import UpsView
from power.q1driver import AsyncQ1Driver, Q1Driver, Q1DriverConfig
from power.settings import PowerConfig, UpsSection
from power.sim_ups import SimulatedQ1Ups
from power.status import CommsHealth, UpsEvent, UpsState

log = logging.getLogger("hromada.power.ups")


class TimedQ1Driver(AsyncQ1Driver):
    """An AsyncQ1Driver that remembers how long each poll took (for /metrics and the benchmark)."""

    last_poll_s: float | None = None

    async def poll(self) -> tuple[UpsEvent, ...]:
        started = time.perf_counter()
        try:
            return await super().poll()
        finally:
            self.last_poll_s = time.perf_counter() - started


class Q1Source:
    """A Q1 unit on a serial line, or ``sim``: the simulated unit on its pty, stopped with this source."""

    kind = "q1"

    def __init__(self, section: UpsSection, config: PowerConfig, sim: SimulatedQ1Ups | None = None) -> None:
        self.name, self.description = section.name, section.description or "Megatec Q1"
        self.on_events: OnEvents | None = None
        self.sim = sim
        url = section.url if sim is None else sim.port
        self.config = Q1DriverConfig(
            url=url, poll_interval_s=section.poll_interval_s, max_age_s=section.stale_after_s,
            calibration=config.calibration, allow_missing=frozenset(section.allow_missing), comms=config.comms)
        self.driver = TimedQ1Driver(Q1Driver(self.config), self._events)

    def _events(self, events: tuple[UpsEvent, ...]) -> None:
        if self.on_events is not None:
            self.on_events(events)

    @property
    def health(self) -> CommsHealth:
        return self.driver.driver.health

    @property
    def last_poll_s(self) -> float | None:
        return self.driver.last_poll_s

    async def start(self) -> None:
        await self.driver.start()

    async def stop(self) -> None:
        await self.driver.stop()
        if self.sim is not None:
            self.sim.stop()

    def state(self) -> UpsState:
        return self.driver.ups_state()

    def current(self) -> Mapping[str, str] | None:
        reading = self.driver.driver.current()
        return None if reading is None else reading.variables

    def view(self, fsd: bool = False) -> UpsView:
        view = self.driver.view(self.name, self.description)
        return _with_fsd(view, fsd)

    async def instcmd(self, name: str) -> None:
        await self.driver.instcmd(name)


class NutSource:
    """A UPS served by any ``upsd`` (or by another power node's NUT server)."""

    kind = "nut"

    def __init__(self, section: UpsSection, config: PowerConfig) -> None:
        self.name, self.description = section.name, section.description or f"{section.ups}@{section.host}"
        self.on_events: OnEvents | None = None
        self.poller = NutPoller(NutPollerConfig(
            ups=section.ups, host=section.host, port=section.port, interval_s=section.poll_interval_s,
            stale_after_s=section.stale_after_s, username=section.username or None,
            password=section.password or None, comms=config.comms), on_events=self._events)
        self.last_poll_s: float | None = None

    def _events(self, events: tuple[UpsEvent, ...]) -> None:
        if self.on_events is not None:
            self.on_events(events)

    @property
    def health(self) -> CommsHealth:
        return self.poller.health

    async def start(self) -> None:
        self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()

    def state(self) -> UpsState:
        return self.poller.ups_state()

    def current(self) -> Mapping[str, str] | None:
        reading = self.poller.current()
        return None if reading is None else reading.variables

    def view(self, fsd: bool = False) -> UpsView:
        return _with_fsd(self.poller.view(self.name, self.description), fsd)

    async def instcmd(self, name: str) -> None:
        await self.poller.instcmd(name)


def _with_fsd(view: UpsView, fsd: bool) -> UpsView:
    return replace(view, fsd=True) if fsd else view


def make_source(config: PowerConfig, sim: SimulatedQ1Ups | None = None) -> Ups | None:
    """The configured UPS (``sim``: the simulated unit for ``url = "sim"``), or None without a ``[roles.power.ups]``."""
    section = config.ups
    if section is None:
        return None
    return Q1Source(section, config, sim) if section.driver == "q1" else NutSource(section, config)


def numbers(variables: Mapping[str, str] | None) -> dict[str, Any]:
    """The UPS variables worth a graph, as numbers; absent or non-numeric ones are left out."""
    out: dict[str, Any] = {}
    for var, key in (("input.voltage", "ups_input_v"), ("output.voltage", "ups_output_v"),
                     ("battery.voltage", "ups_battery_v"), ("battery.charge", "ups_charge"),
                     ("battery.runtime", "ups_runtime_s"), ("ups.load", "ups_load")):
        try:
            out[key] = float((variables or {})[var])
        except (KeyError, ValueError):
            pass
    return out
