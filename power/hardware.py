"""The power room's devices: what the service asks of a UPS and a generator, and the wiring on the board.

The two named interfaces, as gpiozero names its device bases:

* :class:`Ups` — a UPS, however it is reached: :class:`power.ups.Q1Source`
  (a Megatec Q1 unit through the Q1 driver, or the simulated unit on a pty
  with ``ups.url = "sim"``) and :class:`power.ups.NutSource` (any ``upsd``
  through the NUT client).
* :class:`Generator` — a generator set: :class:`WiredGenerator` (relays and
  inputs on this board; on mock pins the simulated set of
  :mod:`power.sim_generator` drives them) and
  :class:`power.deepsea.DseController` (a Deep Sea controller over Modbus,
  or :class:`power.sim_deepsea.SimulatedDse` behind it).

One small class per thing on the wall:

* :class:`MainsSensor`, :class:`GeneratorRunning`, :class:`GeneratorOutput` —
  GPIO inputs with a hold time (a :class:`HeldInput`).
* :class:`GeneratorRelays` — the RUN contact (two-wire) or the START and STOP
  contacts (three-wire), playing the relay sequences that
  :mod:`power.policy` hands out as data.
* :class:`LoadContactor` — the transfer contactor, when the board drives one.
* :class:`FuelGauge` — a level sender on an MCP3008 channel.
* :class:`WiredGenerator` — the above together: a :class:`Generator`.

The pins come from the process's gpiozero factory (``edge.gpio.pin_factory``):
mock pins in the demo and the tests, driven from outside by ``power.sim_generator``.
Pin callbacks arrive on the pin backend's thread and are handed to the asyncio
loop, where all deciding happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Callable, Mapping, Protocol

from gpiozero import MCP3008, DigitalInputDevice, Device, OutputDevice
from gpiozero.pins import Factory

from power.nutproto import UpsView
from power.policy import Contact, RelayStep, StartGenerator, StopGenerator
from power.status import CommsHealth, CommsState, UpsEvent, UpsState

log = logging.getLogger("hromada.power.hardware")

#: Told, in the loop, the events of one poll (a UPS's status changes, a controller's alarms).
OnEvents = Callable[[tuple[UpsEvent, ...]], None]


class Ups(Protocol):
    """A UPS as the power service sees it: polled in the background, read at each policy step.

    ``on_events`` is set by the service before :meth:`start` and told the
    events of each poll (on battery, low battery, communication lost …).
    """

    name: str  # on this node's NUT server and in alerts
    kind: str  # "q1" (charge and runtime are this node's estimate) or "nut"
    on_events: OnEvents | None

    @property
    def health(self) -> CommsHealth:
        """How the polls go: OK, COMMBAD after a few failures in a row, NOCOMM after many."""

    @property
    def last_poll_s(self) -> float | None:
        """How long the last poll took (None: not measured)."""

    async def start(self) -> None:
        """Begin polling."""

    async def stop(self) -> None:
        """Stop polling and let go of the line or the connection."""

    def state(self) -> UpsState:
        """What the policy judges: the status flags, charge and runtime."""

    def current(self) -> Mapping[str, str] | None:
        """The latest NUT variables, or None while there is no fresh reading."""

    def view(self, fsd: bool = False) -> UpsView:
        """The UPS as this node's NUT server serves it (with FSD once the shutdown plan began)."""

    async def instcmd(self, name: str) -> None:
        """Run a NUT instant command on the unit (``shutdown.return``); raises when it cannot."""


class Generator(Protocol):
    """A generator set as the power service drives it: the policy's start and stop, its feedback and readings.

    ``on_events`` is set by the service and told a controller's own events;
    a set wired to the board has none to tell.
    """

    kind: str  # "wired" or "deepsea"
    on_events: OnEvents | None

    @property
    def running(self) -> bool:
        """The engine runs (the running feedback, or the controller's engine state)."""

    @property
    def output(self) -> bool | None:
        """AC at the output terminals; None when nothing senses it."""

    @property
    def comms_state(self) -> CommsState | None:
        """How the link to a controller on a bus fares; None for wires, which have no link to lose."""

    @property
    def timeouts(self) -> int | None:
        """Requests to the controller that timed out; None for wires."""

    def watch(self, on_change: Callable[[bool], None]) -> None:
        """Call ``on_change(running)`` in the loop whenever an input changes, so the policy runs at once."""

    def begin(self) -> None:
        """Begin watching (a controller is polled; wires report their own changes)."""

    async def start(self, action: StartGenerator) -> None:
        """Start the set as the policy says (relay steps, or the controller's keys)."""

    async def stop(self, action: StopGenerator) -> None:
        """Stop the set as the policy says."""

    def connect_load(self) -> None:
        """Put the load on the generator (a transfer contactor, when one is driven)."""

    def disconnect_load(self) -> None:
        """Take the load off the generator."""

    async def readings(self) -> dict[str, float]:
        """Readings for history and metrics (fuel, battery, frequency: those it has)."""

    def health(self) -> dict[str, Any]:
        """The set's state for ``/health`` and the API."""

    async def close(self) -> None:
        """Let go of the pins or the connection."""


class HeldInput:
    """A digital input that counts as active while it is, or was within ``hold_s``.

    This one rule serves both kinds of wiring: a filtered optocoupler gives a
    steady level, and its loss is reported ``hold_s`` after the fall; an
    unfiltered one gives 50 Hz pulses, whose gaps (10 ms) never last ``hold_s``.
    A return is reported on the first active edge: deciding whether it is
    stable is the policy's job (``mains_stable_s``), not the wire's.
    ``on_change(active)`` is called in the loop.
    """

    def __init__(self, pin: int, factory: Factory, *, active_high: bool = True, pull_up: bool = False,
                 hold_s: float = 0.3, on_change: Callable[[bool], None] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self.hold_s = hold_s
        self.active_high = active_high
        self.on_change = on_change
        # gpiozero ties "active" to the pull (a pulled-up input is active low); our
        # settings name the level that means "present", so the difference is kept here.
        self._invert = pull_up == active_high
        self.device = DigitalInputDevice(pin, pull_up=pull_up, pin_factory=factory)
        self.active = self.level_active
        self.changes = 0
        self._release: asyncio.TimerHandle | None = None
        self.device.when_activated = lambda: self._from_pin_thread(not self._invert)
        self.device.when_deactivated = lambda: self._from_pin_thread(self._invert)

    @property
    def level_active(self) -> bool:
        """The wire's state now, before the hold time."""
        return bool(self.device.is_active) != self._invert

    def _from_pin_thread(self, active: bool) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._edge, active)

    def _edge(self, active: bool) -> None:
        if active:
            if self._release is not None:
                self._release.cancel()
                self._release = None
            self._set(True)
        elif self._release is None and self.active:
            self._release = self._loop.call_later(self.hold_s, self._expire)

    def _expire(self) -> None:
        self._release = None
        if not self.level_active:
            self._set(False)

    def _set(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            self.changes += 1
            if self.on_change is not None:
                self.on_change(active)

    def close(self) -> None:
        if self._release is not None:
            self._release.cancel()
        with contextlib.suppress(Exception):
            self.device.close()


class MainsSensor(HeldInput):
    """Mains present: an optocoupler on the grid side, or an ATS's dry contact."""


class GeneratorRunning(HeldInput):
    """The generator's running feedback: a dry contact or an AC-sense module on the engine's side."""


class GeneratorOutput(HeldInput):
    """AC at the generator's output terminals (for the "running but no output" alarm)."""


class GeneratorRelays:
    """The start/stop contacts, driven by :class:`power.policy.RelayStep` sequences.

    Only one sequence plays at a time: a new one (a stop arriving during a
    start pulse) ends the old one, whose momentary contacts are opened first,
    so START and STOP are never closed together.
    """

    def __init__(self, pins: dict[Contact, int], factory: Factory, active_high: bool = True) -> None:
        self.contacts: dict[Contact, OutputDevice] = {}
        try:
            for contact, pin in pins.items():
                self.contacts[contact] = OutputDevice(pin, active_high=active_high, initial_value=False,
                                                      pin_factory=factory)
        except Exception:
            self.close()
            raise
        self._task: asyncio.Task[None] | None = None
        self.sequences = 0

    def closed(self) -> dict[str, bool]:
        return {str(c): bool(d.value) for c, d in self.contacts.items()}

    async def play(self, steps: tuple[RelayStep, ...]) -> None:
        """Play ``steps`` in the background; returns at once."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for momentary in (Contact.START, Contact.STOP):
            if momentary in self.contacts:
                self.contacts[momentary].off()
        self.sequences += 1
        self._task = asyncio.create_task(self._run(steps), name="generator-relays")

    async def _run(self, steps: tuple[RelayStep, ...]) -> None:
        for step in steps:
            device = self.contacts.get(step.contact)
            if device is None:
                log.error("реле %s не підключене / relay %s is not wired", step.contact, step.contact)
                return
            device.value = step.closed
            if step.hold_s:
                await asyncio.sleep(step.hold_s)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for device in self.contacts.values():
            with contextlib.suppress(Exception):
                device.off()
                device.close()


class LoadContactor:
    """The relay of a transfer contactor: closed puts the load on the generator."""

    def __init__(self, pin: int, factory: Factory, active_high: bool = True) -> None:
        self.device = OutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=factory)

    @property
    def connected(self) -> bool:
        return bool(self.device.value)

    def connect(self) -> None:
        self.device.on()

    def disconnect(self) -> None:
        self.device.off()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.device.close()


def fuel_percent(reading: float, empty: float, full: float) -> float:
    """The tank level from an ADC reading (0–1) between the sender's empty and full readings.

    A sender may read higher or lower when full; either way round works. The
    result is clamped to 0–100: a reading past the marks is a full or an empty
    tank, not 110 %.
    """
    if empty == full:
        raise ValueError("empty and full readings must differ")
    level = (reading - empty) / (full - empty)
    return round(min(max(level, 0.0), 1.0) * 100, 1)


class FuelGauge:
    """A fuel level sender on one channel of an MCP3008 (SPI0, CE0)."""

    def __init__(self, channel: int, factory: Factory, empty: float, full: float) -> None:
        if Device.pin_factory is None:
            # gpiozero's software SPI bus asks the global default factory for its
            # own pins whatever factory the ADC got; give it ours rather than let it
            # guess (it would fail on a mock or pick another backend).
            Device.pin_factory = factory
        self.adc = MCP3008(channel=channel, pin_factory=factory)
        self.empty, self.full = empty, full

    def read(self) -> float:
        """The level in percent (blocking: a few SPI transfers)."""
        return fuel_percent(float(self.adc.value), self.empty, self.full)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.adc.close()


class WiredGenerator:
    """A generator wired to the board: relays out, running (and output) feedback in.

    ``on_change()`` is called in the loop whenever an input changes, so the
    policy runs at once rather than at its next tick.
    """

    kind = "wired"

    def __init__(self, relays: GeneratorRelays, running: GeneratorRunning, output: GeneratorOutput | None = None,
                 load: LoadContactor | None = None, fuel: FuelGauge | None = None) -> None:
        self.relays, self.running_input, self.output_input = relays, running, output
        self.load, self.fuel = load, fuel
        self.on_events: OnEvents | None = None  # wires tell no events of their own: never called

    @property
    def comms_state(self) -> CommsState | None:
        """None: wires have no link to lose."""
        return None

    @property
    def timeouts(self) -> int | None:
        """None: no requests to time out."""
        return None

    @property
    def running(self) -> bool:
        return self.running_input.active

    @property
    def output(self) -> bool | None:
        return None if self.output_input is None else self.output_input.active

    def watch(self, on_change: Callable[[bool], None]) -> None:
        self.running_input.on_change = on_change
        if self.output_input is not None:
            self.output_input.on_change = on_change

    async def start(self, action: StartGenerator) -> None:
        await self.relays.play(action.steps)

    async def stop(self, action: StopGenerator) -> None:
        await self.relays.play(action.steps)

    def connect_load(self) -> None:
        if self.load is not None:
            self.load.connect()

    def disconnect_load(self) -> None:
        if self.load is not None:
            self.load.disconnect()

    def begin(self) -> None:
        """Nothing to poll: the inputs report their own changes."""

    async def readings(self) -> dict[str, float]:
        """Readings for history and metrics (the fuel level, when a sender is fitted)."""
        if self.fuel is None:
            return {}
        level = await asyncio.get_running_loop().run_in_executor(None, self.fuel.read)
        return {"fuel_percent": level}

    def health(self) -> dict[str, Any]:
        return {"kind": self.kind, "running": self.running, "output": self.output, "relays": self.relays.closed(),
                "load_connected": None if self.load is None else self.load.connected}

    async def close(self) -> None:
        for part in (self.relays, self.running_input, self.output_input, self.load, self.fuel):
            if part is not None:
                part.close()
