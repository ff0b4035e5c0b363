"""A simulated Megatec Q1 UPS on a pseudo-terminal.

The simulator owns a real pty (``os.openpty``); anything that opens the slave
path (``port``) talks to it as to a UPS on a serial line: our Q1 driver
through pyserial, or NUT's own ``nutdrv_qx``. A thread answers ``Q1``, ``F``
and ``I`` with :mod:`power.q1`'s formatters, accepts the test, beeper and
shutdown commands silently as real units do, and echoes anything else back
(which is how ``nutdrv_qx`` learns that a protocol is not spoken here).

Mains is the one thing a script controls; the battery follows from it:
it drains under load while on battery (its voltage falling and sagging with
the load), the low-battery bit comes up when the charge falls below a
threshold, and it recharges once mains is back. A demo or a test steps it
with :meth:`SimulatedQ1Ups.go` or plays a timed :class:`ScriptStep` list.
"""

from __future__ import annotations

import collections
import enum
import os
import select
import threading
import time
import tty
from dataclasses import dataclass
from typing import Callable, Iterable

from power.q1 import (Q1Error, Q1Flags, Q1Info, Q1Rating, Q1Status, decode_command,
                      format_info, format_q1, format_rating)


class SimState(enum.StrEnum):
    """What the scenario shows; ``LOW_BATTERY`` is reached by draining or by a jump."""

    ON_LINE = "on-line"
    ON_BATTERY = "on-battery"
    LOW_BATTERY = "low-battery"


class Garble(enum.StrEnum):
    """Faults a bad cable, a wrong baud rate or a cheap unit produce on the line."""

    WRONG_LENGTH = "wrong-length"  # a byte lost in the middle of the reply
    AT_FIELDS = "at-fields"  # '@' where a reading should be
    ECHO = "echo"  # the command comes back instead of an answer
    SILENCE = "silence"  # nothing at all
    NOISE = "noise"  # bytes that are not ASCII (wrong baud rate)


@dataclass(frozen=True, slots=True)
class SimUpsConfig:
    """The simulated unit: nameplate, load and battery timings."""

    cells: int = 12  # two 12 V blocks
    load_percent: int = 30
    mains_voltage: float = 228.0
    output_on_battery_v: float = 220.0
    frequency_hz: float = 50.0
    temperature_c: float = 27.5
    discharge_s: float = 600.0  # full to empty at ``load_percent``
    recharge_s: float = 1800.0  # empty to full on mains
    low_charge: float = 0.25  # the battery-low bit below this fraction
    cell_full_v: float = 2.25  # open-circuit, as power.q1.BatteryCalibration assumes
    cell_empty_v: float = 1.75
    cell_float_v: float = 2.29  # what the charger holds a full battery at
    sag_per_cell_full_load_v: float = 0.10
    beeper_on: bool = True
    rating: Q1Rating = Q1Rating(220.0, 3, 24.0, 50.0)
    info: Q1Info = Q1Info("HROMADA-SIM", "Q1-SIM-1K", "V1.0")

    def __post_init__(self) -> None:
        if self.discharge_s <= 0 or self.recharge_s <= 0 or not 0 < self.low_charge < 1:
            raise ValueError("timings must be positive and low_charge within (0, 1)")


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """Go to ``state`` ``at_s`` seconds after the script started."""

    at_s: float
    state: SimState


# The demo's blackout: the grid fails, the battery runs low, the grid returns.
BLACKOUT_SCRIPT = (ScriptStep(0, SimState.ON_LINE), ScriptStep(10, SimState.ON_BATTERY),
                   ScriptStep(40, SimState.LOW_BATTERY), ScriptStep(60, SimState.ON_LINE))

_TEN_SECOND_TEST = 10.0
_LOW_JUMP_MARGIN = 0.02  # a jump to LOW_BATTERY lands just under the threshold


class _Unit:
    """The UPS's physics and command state; not thread-safe, the owner locks."""

    def __init__(self, cfg: SimUpsConfig, now: float):
        self.cfg = cfg
        self.mains = True
        self.charge = 1.0
        self.load = cfg.load_percent
        self.beeper = cfg.beeper_on
        self.test_until: float | None = None  # monotonic end, or inf for "until low"
        self.shutdown_at: float | None = None  # output goes off then
        self.restore_at: float | None = None  # output comes back then (SnRmmmm)
        self.restore_with_mains = False  # output comes back when mains is present (Sn)
        self.output_off = False
        self.last = now

    @property
    def battery_low(self) -> bool:
        # The bit follows the voltage under load; on line the charger lifts the
        # voltage at once, so a recharging battery does not read as low.
        return self.charge < self.cfg.low_charge and self.discharging

    @property
    def discharging(self) -> bool:
        return (not self.mains or self.test_until is not None) and not self.output_off

    def advance(self, now: float) -> None:
        dt, self.last = max(0.0, now - self.last), now
        cfg = self.cfg
        if self.discharging:
            rate = max(self.load, 1) / max(cfg.load_percent, 1) / cfg.discharge_s
            self.charge = max(0.0, self.charge - rate * dt)
        elif self.mains:
            self.charge = min(1.0, self.charge + dt / cfg.recharge_s)
        if self.test_until is not None and (now >= self.test_until or self.battery_low):
            self.test_until = None  # a test ends on time, or when the battery runs low
        if self.shutdown_at is not None and now >= self.shutdown_at:
            self.shutdown_at, self.output_off = None, True
        if self.output_off and self.restore_at is not None and now >= self.restore_at:
            self.output_off, self.restore_at = False, None
        if self.output_off and self.restore_with_mains and self.mains:
            self.output_off, self.restore_with_mains = False, False
        if not self.mains and self.charge <= 0.0:
            self.output_off = True  # battery exhausted: the inverter gives up
            self.restore_with_mains = True

    def battery_voltage(self) -> float:
        cfg = self.cfg
        cell = cfg.cell_empty_v + (cfg.cell_full_v - cfg.cell_empty_v) * self.charge
        if self.discharging:
            cell -= cfg.sag_per_cell_full_load_v * self.load / 100
        elif self.mains:
            cell = min(cfg.cell_float_v, cell + 0.05)  # the charger lifts it
        return round(cell * cfg.cells, 1)

    def status(self) -> Q1Status:
        cfg = self.cfg
        vin = cfg.mains_voltage if self.mains else 0.0
        if self.output_off:
            vout = 0.0
        else:
            vout = cfg.mains_voltage if self.mains else cfg.output_on_battery_v
        flags = Q1Flags(utility_fail=not self.mains, battery_low=self.battery_low,
                        test_in_progress=self.test_until is not None,
                        shutdown_active=self.shutdown_at is not None or self.output_off,
                        beeper_on=self.beeper)
        # No glitches are simulated: the held "fault voltage" is the input itself.
        return Q1Status(vin, vin, vout,
                        0 if self.output_off else self.load, cfg.frequency_hz,
                        self.battery_voltage(), cfg.temperature_c, flags)


class SimulatedQ1Ups:
    """A Megatec Q1 UPS behind a pty; use as a context manager or start()/stop()."""

    def __init__(self, config: SimUpsConfig = SimUpsConfig(), *,
                 clock: Callable[[], float] = time.monotonic):
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._unit = _Unit(config, clock())
        self._script: list[tuple[float, SimState]] = []
        self._garble: Garble | None = None
        self._garble_left: int | None = None
        self.received: collections.deque[str] = collections.deque(maxlen=200)
        self._master = self._slave = -1
        self.port = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> SimulatedQ1Ups:
        self._master, self._slave = os.openpty()
        # Raw from the start, so nothing is echoed or translated before a client
        # configures the line; the slave end stays open here so that the pty
        # survives a driver closing and reopening it.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="sim-ups", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def __enter__(self) -> SimulatedQ1Ups:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- scenario ----------------------------------------------------------

    @property
    def state(self) -> SimState:
        with self._lock:
            self._advance()
            return self._state()

    def go(self, state: SimState) -> None:
        """Step to ``state`` now; a scripted sequence still pending is dropped."""
        with self._lock:
            self._script.clear()
            self._advance()
            self._apply(state)

    def play(self, script: Iterable[ScriptStep]) -> None:
        """Run a timed script from now on, in the simulator's own thread."""
        start = self._clock()
        with self._lock:
            self._script = sorted((start + s.at_s, s.state) for s in script)
            self._advance()

    @property
    def script_done(self) -> bool:
        with self._lock:
            return not self._script

    def set_load(self, percent: int) -> None:
        with self._lock:
            self._advance()
            self._unit.load = max(0, min(percent, 150))

    def set_charge(self, fraction: float) -> None:
        with self._lock:
            self._advance()
            self._unit.charge = min(max(fraction, 0.0), 1.0)

    def status(self) -> Q1Status:
        """What the unit would answer to Q1 right now."""
        with self._lock:
            self._advance()
            return self._unit.status()

    # --- faults ------------------------------------------------------------

    def garble(self, kind: Garble | None, count: int | None = None) -> None:
        """Spoil the next ``count`` replies to Q1/F/I (all of them while None); None heals."""
        with self._lock:
            self._garble, self._garble_left = kind, count

    # --- internals ---------------------------------------------------------

    def _state(self) -> SimState:
        u = self._unit
        if u.mains:
            return SimState.ON_LINE
        return SimState.LOW_BATTERY if u.battery_low else SimState.ON_BATTERY

    def _apply(self, state: SimState) -> None:
        u = self._unit
        u.mains = state is SimState.ON_LINE
        if state is SimState.LOW_BATTERY and u.charge >= u.cfg.low_charge:
            u.charge = max(0.0, u.cfg.low_charge - _LOW_JUMP_MARGIN)

    def _advance(self) -> None:
        """Play due script steps and move the physics up to now (lock held)."""
        now = self._clock()
        while self._script and self._script[0][0] <= now:
            at, state = self._script.pop(0)
            self._unit.advance(at)
            self._apply(state)
        self._unit.advance(now)

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            with self._lock:
                self._advance()
            if not ready:
                continue
            try:
                buffer += os.read(self._master, 1024)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return  # pty closed under us: stop() is running
            while b"\r" in buffer:
                line, buffer = buffer.split(b"\r", 1)
                line = line.strip(b"\n")
                if line:
                    self._send(self._answer(line + b"\r"))
            if len(buffer) > 256:
                buffer = b""  # no command is that long: line noise

    def _send(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except (BlockingIOError, OSError):
            pass  # nobody reads and the pty is full: a real line would lose it too

    def _answer(self, line: bytes) -> bytes:
        text = line.decode("ascii", "replace").rstrip("\r")
        with self._lock:
            self.received.append(text)
            self._advance()
            try:
                req = decode_command(line)
            except Q1Error:
                return line  # unknown commands are echoed back, as real units do
            now, u = self._clock(), self._unit
            if req.command in ("Q1", "F", "I"):
                reply = {"Q1": lambda: format_q1(u.status()),
                         "F": lambda: format_rating(self.config.rating),
                         "I": lambda: format_info(self.config.info)}[req.command]()
                return self._spoil(reply, line)
            if req.command == "T":
                u.test_until = now + _TEN_SECOND_TEST
            elif req.command == "TL":
                u.test_until = float("inf")
            elif req.command == "Tn":
                u.test_until = now + 60.0 * (req.minutes or 0)
            elif req.command == "CT":
                u.test_until = None
            elif req.command == "Q":
                u.beeper = not u.beeper
            elif req.command == "S":
                u.shutdown_at = now + (req.delay_s or 0)
                minutes = req.restore_after_min
                # SnR0000 means "stay off"; Sn alone comes back with the mains
                # (at once if the mains never left: the unit only restarts).
                u.restore_with_mains = minutes is None
                u.restore_at = (u.shutdown_at + 60.0 * minutes) if minutes else None
            elif req.command == "C":
                u.shutdown_at = u.restore_at = None
                u.output_off = u.restore_with_mains = False
            return b""  # commands are carried out silently

    def _spoil(self, reply: bytes, line: bytes) -> bytes:
        kind = self._garble
        if kind is None:
            return reply
        if self._garble_left is not None:
            self._garble_left -= 1
            if self._garble_left <= 0:
                self._garble = self._garble_left = None
        if kind is Garble.SILENCE:
            return b""
        if kind is Garble.ECHO:
            return line
        if kind is Garble.WRONG_LENGTH:
            return reply[:5] + reply[6:]
        if kind is Garble.AT_FIELDS:
            return reply[:1] + b"@" * 3 + b"." + b"@" + reply[6:]
        return bytes(0x80 | b for b in reply[:-1]) + b"\r"  # NOISE
