"""Megatec Q1 UPS over a serial line: polling, commands and communication health.

:class:`Q1Driver` does blocking serial I/O (pyserial ``serial_for_url``, so a
device, a simulator's pty or ``socket://`` all work) and must be used from one
thread at a time. :class:`AsyncQ1Driver` gives it a thread of its own and an
asyncio face. Every reply goes through :mod:`power.q1`'s strict parsers; a
reply that fails is counted in a :class:`power.status.CommsHealth` (COMMBAD,
NOCOMM) and the last good reading is kept, never patched up. A reading older
than ``max_age_s``, or taken before communication went bad, is not served as
current: :meth:`Q1Driver.view` then says DATA-STALE, as upsd would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping

import serial

from power.nutproto import UpsView
from power.q1 import (BatteryCalibration, BatteryEstimate, Q1Command, Q1Error, Q1Fault, Q1Info,
                      Q1Rating, Q1Status, encode, encode_shutdown, encode_test_minutes,
                      estimate_battery, parse_info, parse_q1, parse_rating)
from power.status import (CommsConfig, CommsHealth, UpsEvent, UpsState, parse_status,
                          q1_variables, status_events)

log = logging.getLogger("hromada.power.q1")

SERIAL_FAULT = "serial-error"  # the port itself failed (unplugged, permissions)
_MAX_REPLY = 64  # the longest Q1 reply is 47 bytes; more is noise

# NUT instant-command names we carry out, so that the read-only NUT server can
# list them and peers see the same names as with nutdrv_qx.
INSTANT_COMMANDS = ("beeper.toggle", "shutdown.return", "shutdown.stayoff", "shutdown.stop",
                    "test.battery.start.deep", "test.battery.start.quick", "test.battery.stop")


@dataclass(frozen=True, slots=True)
class Q1DriverConfig:
    """How to reach one Q1 unit and how to judge its answers."""

    url: str  # /dev/ttyUSB0, a pty path, socket://host:port, loop://
    baudrate: int = 2400
    read_timeout_s: float = 1.0  # NUT's serial read timeout
    poll_interval_s: float = 2.0
    max_age_s: float = 15.0  # upsd's MAXAGE: an older reading is stale
    echo_window_s: float = 0.3  # how long to listen for an echo after a silent command
    calibration: BatteryCalibration | None = None  # None: no charge or runtime estimate
    allow_missing: frozenset[str] = frozenset()  # fields this unit fills with '@'
    comms: CommsConfig = field(default_factory=CommsConfig)
    shutdown_delay_s: int = 30  # nutdrv_qx's offdelay
    restore_after_min: int = 3  # nutdrv_qx's ondelay (180 s), for shutdown.return


@dataclass(frozen=True, slots=True)
class Q1Reading:
    """One good answer to Q1, with what was derived from it and when (monotonic)."""

    status: Q1Status
    estimate: BatteryEstimate | None
    variables: Mapping[str, str]
    at: float


class Q1Link:
    """The serial line to one unit: a command out, at most one reply line back."""

    def __init__(self, url: str, baudrate: int = 2400, read_timeout_s: float = 1.0):
        self.url = url
        self.baudrate = baudrate
        self.read_timeout_s = read_timeout_s
        self._port: serial.SerialBase | None = None

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        if self._port is None:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, bytesize=8,
                                               parity="N", stopbits=1,
                                               timeout=self.read_timeout_s)

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    def query(self, command: bytes) -> bytes:
        """Send ``command`` and return the reply up to its CR, or b"" on silence."""
        port = self._ready()
        # A late reply to an earlier command would otherwise be taken for this one.
        port.reset_input_buffer()
        port.write(command)
        port.flush()
        return port.read_until(b"\r", _MAX_REPLY)

    def send(self, command: bytes, echo_window_s: float) -> None:
        """Send a command that has no reply; an echo means the unit refused it."""
        port = self._ready()
        port.reset_input_buffer()
        port.write(command)
        port.flush()
        port.timeout = echo_window_s
        try:
            back = port.read_until(b"\r", len(command))
        finally:
            port.timeout = self.read_timeout_s
        if back == command:
            raise Q1Error(Q1Fault.ECHO, f"the UPS does not support {command!r}")

    def _ready(self) -> serial.SerialBase:
        self.open()
        assert self._port is not None
        return self._port


class Q1Driver:
    """Polls one Q1 unit and keeps its last good reading; blocking, one thread at a time."""

    def __init__(self, config: Q1DriverConfig, *, clock: Callable[[], float] = time.monotonic,
                 link: Q1Link | None = None):
        self.config = config
        self._clock = clock
        self.link = link or Q1Link(config.url, config.baudrate, config.read_timeout_s)
        self.health = CommsHealth()
        self.rating: Q1Rating | None = None
        self.info: Q1Info | None = None
        self.reading: Q1Reading | None = None  # the last good one, however old
        self._tokens: frozenset[str] | None = None
        self._identified = False

    def close(self) -> None:
        self.link.close()

    def identify(self) -> None:
        """Ask for ratings (F) and identity (I) once; units that lack them are fine."""
        self._identified = True
        for command, parse, attr in ((Q1Command.RATING, parse_rating, "rating"),
                                     (Q1Command.INFO, parse_info, "info")):
            try:
                setattr(self, attr, parse(self.link.query(encode(command))))
            except Q1Error as e:
                log.info("Q1 %s: немає придатної відповіді / no usable answer (%s)", command, e.fault)
            except (serial.SerialException, OSError) as e:
                log.warning("Q1 %s: помилка порту / port error: %s", command, e)
                self.link.close()
                self._identified = False  # try again once the port is back
                return

    def poll(self) -> tuple[UpsEvent, ...]:
        """One Q1 round trip; returns the events it caused (status and comms)."""
        raw = b""
        try:
            raw = self.link.query(encode(Q1Command.STATUS))
            status = parse_q1(raw, allow_missing=self.config.allow_missing)
        except Q1Error as e:
            return self._failed(str(e.fault), repr(raw))
        except (serial.SerialException, OSError) as e:
            self.link.close()  # reopened on the next poll: the adapter may come back
            return self._failed(SERIAL_FAULT, str(e))
        self.health, comms_events = self.health.good()
        if not self._identified:
            self.identify()  # the port was absent at start; ask now that it answers
        estimate = self._estimate(status)
        variables = q1_variables(status, estimate, self.rating, self.info)
        self.reading = Q1Reading(status, estimate, variables, self._clock())
        tokens = parse_status(variables["ups.status"])
        events = status_events(self._tokens, tokens)
        self._tokens = tokens
        return comms_events + events

    def _failed(self, fault: str, detail: str) -> tuple[UpsEvent, ...]:
        self.health, events = self.health.bad(fault, self.config.comms)
        # The first failure of a run and each change of state are worth a line in
        # the journal; a dead unit polled every 2 s for hours is not.
        level = logging.WARNING if events or self.health.consecutive_failures == 1 else logging.DEBUG
        log.log(level, "Q1: зіпсована відповідь / bad reply (%s) %s [%d поспіль / in a row]",
                fault, detail, self.health.consecutive_failures)
        return events

    def _estimate(self, status: Q1Status) -> BatteryEstimate | None:
        cal = self.config.calibration
        if cal is None or status.battery_voltage is None or status.load_percent is None:
            return None
        return estimate_battery(cal, status.battery_voltage, status.load_percent,
                                status.flags.utility_fail)

    # --- what others read ---------------------------------------------------

    def current(self) -> Q1Reading | None:
        """The last reading if it may be presented as current, else None."""
        r = self.reading
        if r is None or not self.health.data_ok:
            return None
        if self._clock() - r.at > self.config.max_age_s:
            return None
        return r

    def ups_state(self) -> UpsState:
        """For the policy: the last known status, flagged when communication is lost."""
        r = self.current()
        if r is not None:
            est = r.estimate
            return UpsState(parse_status(r.variables["ups.status"]),
                            est.charge_percent if est else None, est.runtime_s if est else None)
        return UpsState(self._tokens or frozenset(), comms_lost=self._tokens is not None)

    def view(self, name: str, description: str = "") -> UpsView:
        """What the NUT server shows for this unit; stale data is refused, not served."""
        r = self.current()
        return UpsView(name, description, dict(r.variables) if r else {}, INSTANT_COMMANDS,
                       connected=self.link.is_open or self.reading is not None,
                       stale=r is None)

    # --- commands ------------------------------------------------------------

    def test_battery(self, minutes: int | None = None) -> None:
        """``T`` (10 s), or ``Tnn`` for ``minutes``."""
        self._send(encode(Q1Command.TEST_10S) if minutes is None else encode_test_minutes(minutes))

    def test_battery_until_low(self) -> None:
        self._send(encode(Q1Command.TEST_UNTIL_LOW))

    def cancel_test(self) -> None:
        self._send(encode(Q1Command.CANCEL_TEST))

    def shutdown(self, delay_s: int, restore_after_min: int | None = None) -> None:
        """Turn the output off after ``delay_s``; see :func:`power.q1.encode_shutdown`."""
        self._send(encode_shutdown(delay_s, restore_after_min))

    def cancel_shutdown(self) -> None:
        self._send(encode(Q1Command.CANCEL_SHUTDOWN))

    def toggle_beeper(self) -> None:
        self._send(encode(Q1Command.TOGGLE_BEEPER))

    def instcmd(self, name: str) -> None:
        """Carry out a NUT instant command by its NUT name (see INSTANT_COMMANDS)."""
        cfg = self.config
        actions: dict[str, Callable[[], None]] = {
            "beeper.toggle": self.toggle_beeper,
            "shutdown.return": lambda: self.shutdown(cfg.shutdown_delay_s, cfg.restore_after_min),
            "shutdown.stayoff": lambda: self.shutdown(cfg.shutdown_delay_s, 0),
            "shutdown.stop": self.cancel_shutdown,
            "test.battery.start.deep": self.test_battery_until_low,
            "test.battery.start.quick": self.test_battery,
            "test.battery.stop": self.cancel_test,
        }
        if name not in actions:
            raise KeyError(f"unknown instant command {name!r}")
        actions[name]()

    def _send(self, command: bytes) -> None:
        try:
            self.link.send(command, self.config.echo_window_s)
        except (serial.SerialException, OSError):
            self.link.close()
            raise
        log.info("Q1: команду надіслано / command sent: %r", command)


class AsyncQ1Driver:
    """A :class:`Q1Driver` in a thread of its own, awaited from the event loop.

    All serial work goes through one worker thread, so a poll and a command
    never interleave on the line. ``on_events`` is called in the loop with
    the events each poll produced.
    """

    def __init__(self, driver: Q1Driver,
                 on_events: Callable[[tuple[UpsEvent, ...]], None] | None = None):
        self.driver = driver
        self._on_events = on_events
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="q1-serial")
        self._task: asyncio.Task[None] | None = None

    async def _call(self, fn: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        """Ask F and I once, then poll every ``poll_interval_s`` in the background."""
        await self._call(self.driver.identify)
        self._task = asyncio.create_task(self._run(), name="q1-poll")

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.poll()
            except Exception:  # a bug must not stop the watch over the UPS
                log.exception("Q1: помилка опитування / poll failed")
            spent = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.driver.config.poll_interval_s - spent))

    async def poll(self) -> tuple[UpsEvent, ...]:
        events = await self._call(self.driver.poll)
        if events and self._on_events is not None:
            self._on_events(events)
        return events

    async def instcmd(self, name: str) -> None:
        await self._call(self.driver.instcmd, name)

    async def shutdown(self, delay_s: int, restore_after_min: int | None = None) -> None:
        await self._call(self.driver.shutdown, delay_s, restore_after_min)

    def view(self, name: str, description: str = "") -> UpsView:
        return self.driver.view(name, description)

    def ups_state(self) -> UpsState:
        return self.driver.ups_state()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._call(self.driver.close)
        self._executor.shutdown(wait=True)
