"""A Deep Sea (DSE) generator controller over Modbus TCP: its state, fuel, battery, hours; start and stop.

Registers follow the DSE GenComm map (register = page × 256 + offset, one
16-bit word each; 32-bit values high word first). A word of 0xFFFF means
"not implemented" and 0xFFFC..0xFFFE "sensor fault / over range": those
become None, never a number. A request that times out or is refused is
counted in a :class:`power.status.CommsHealth`, like a garbled UPS reply:
COMMBAD after a few in a row, NOCOMM after many; nothing raises past
:meth:`DseController.poll`, and the last good reading is kept but marked stale.

pymodbus is pinned: its API changed within 3.x (``slave=`` became ``device_id=``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException, ModbusIOException

from edge.tasks import cancel_and_wait
from power.policy import StartGenerator, StopGenerator
from power.status import CommsConfig, CommsHealth, CommsState, UpsEvent

log = logging.getLogger("hromada.power.deepsea")
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # it logs every timeout itself, with hex dumps

# GenComm page 3 (engine instruments), page 5/6 (accumulated), page 4 (control state), page 16 (control keys).
REG_CONTROL_MODE = 772
REG_INSTRUMENTS = 1024  # oil kPa, coolant °C, _, fuel %, _, battery ×0.1 V, rpm, freq ×0.1 Hz, V L1-N u32 ×0.1
INSTRUMENT_WORDS = 10
REG_ENGINE_STATE = 1408
REG_RUN_TIME = 1798  # u32 seconds, then …, 1808 number of starts
ACCUMULATED_WORDS = 11
REG_SYSTEM_CONTROL = 4104  # write [key, 65535 - key]

NOT_IMPLEMENTED = 0xFFFF
FAULT_CODES = frozenset({0xFFFC, 0xFFFD, 0xFFFE, NOT_IMPLEMENTED})
OUTPUT_MIN_HZ = 45.0  # below this the alternator is not giving usable power


class ControlKey(enum.IntEnum):
    STOP = 35700
    AUTO = 35701
    MANUAL = 35702
    START = 35705


class EngineState(enum.IntEnum):
    STOPPED = 0
    PRE_START = 1
    WARMING_UP = 2
    RUNNING = 3
    COOLING_DOWN = 4


class ControlMode(enum.IntEnum):
    STOP = 0
    AUTO = 1
    MANUAL = 2
    TEST_ON_LOAD = 3


def word(value: int) -> int | None:
    """A 16-bit reading, or None for the not-implemented and sensor-fault codes."""
    return None if value in FAULT_CODES else value


def dword(high: int, low: int) -> int | None:
    """A 32-bit reading (high word first), or None for the fault codes."""
    if high == 0xFFFF and low in FAULT_CODES:
        return None
    return (high << 16) | low


def scaled(value: int | None, factor: float) -> float | None:
    return None if value is None else round(value * factor, 2)


@dataclass(frozen=True, slots=True)
class DseReading:
    """One complete read of the controller; a field is None when the controller has no such value."""

    mode: int | None
    engine_state: int | None
    oil_kpa: int | None
    coolant_c: int | None
    fuel_percent: int | None
    battery_v: float | None
    rpm: int | None
    frequency_hz: float | None
    voltage_l1: float | None
    run_time_s: int | None
    starts: int | None
    at: float

    @property
    def running(self) -> bool:
        return self.engine_state in (EngineState.WARMING_UP, EngineState.RUNNING, EngineState.COOLING_DOWN)

    @property
    def output(self) -> bool | None:
        return None if self.frequency_hz is None else self.frequency_hz >= OUTPUT_MIN_HZ


def decode(control: Sequence[int], instruments: Sequence[int], state: Sequence[int],
           accumulated: Sequence[int], at: float) -> DseReading:
    """Registers as read (see the REG_* blocks) to a reading; a short block is a ValueError."""
    if len(control) < 1 or len(instruments) < INSTRUMENT_WORDS or len(state) < 1 \
            or len(accumulated) < ACCUMULATED_WORDS:
        raise ValueError("short Modbus reply")
    i = instruments
    return DseReading(
        mode=word(control[0]), engine_state=word(state[0]), oil_kpa=word(i[0]), coolant_c=word(i[1]),
        fuel_percent=word(i[3]), battery_v=scaled(word(i[5]), 0.1), rpm=word(i[6]),
        frequency_hz=scaled(word(i[7]), 0.1), voltage_l1=scaled(dword(i[8], i[9]), 0.1),
        run_time_s=dword(accumulated[0], accumulated[1]), starts=word(accumulated[10]), at=at)


class ModbusFault(Exception):
    """No usable answer: a timeout, a refused request, a broken connection."""


class DseController:
    """Polls a DSE controller and carries out start and stop; never raises from :meth:`poll`."""

    kind = "deepsea"

    def __init__(self, host: str, port: int = 502, unit: int = 10, *, timeout_s: float = 1.0,
                 poll_s: float = 1.0, comms: CommsConfig = CommsConfig(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.host, self.port, self.unit = host, port, unit
        self.timeout_s, self.poll_s, self.comms = timeout_s, poll_s, comms
        self._clock = clock
        self.client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0,
                                           reconnect_delay=0, reconnect_delay_max=0)
        self.comms_health = CommsHealth()
        self.reading: DseReading | None = None
        self.timeouts = 0
        self.commands_failed = 0
        self.on_events: Callable[[tuple[UpsEvent, ...]], None] | None = None
        self.on_change: Callable[[bool], None] | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # --- what the service reads -------------------------------------------------

    @property
    def running(self) -> bool:
        """Engine turning by the last reading (kept through a communication fault, which is alarmed)."""
        return self.reading is not None and self.reading.running

    @property
    def output(self) -> bool | None:
        return None if self.reading is None else self.reading.output

    @property
    def comms_state(self) -> CommsState:
        return self.comms_health.state

    def watch(self, on_change: Callable[[bool], None]) -> None:
        self.on_change = on_change

    # --- I/O ---------------------------------------------------------------------

    async def _read(self, address: int, count: int) -> list[int]:
        try:
            if not self.client.connected:
                await asyncio.wait_for(self.client.connect(), self.timeout_s)
            reply = await asyncio.wait_for(
                self.client.read_holding_registers(address, count=count, device_id=self.unit),
                self.timeout_s + 0.5)
        except (asyncio.TimeoutError, ModbusException, OSError) as exc:
            if isinstance(exc, (asyncio.TimeoutError, ModbusIOException)):  # pymodbus: "no response received"
                self.timeouts += 1
            raise ModbusFault(f"{type(exc).__name__}: {exc}") from exc
        if reply.isError():
            raise ModbusFault(f"exception response {reply}")
        return list(reply.registers)

    async def poll(self) -> tuple[UpsEvent, ...]:
        """Read every block once; a failure is counted, and the events it caused are returned."""
        was_running, had_output = self.running, self.output
        async with self._lock:
            try:
                blocks = [await self._read(REG_CONTROL_MODE, 1), await self._read(REG_INSTRUMENTS, INSTRUMENT_WORDS),
                          await self._read(REG_ENGINE_STATE, 1), await self._read(REG_RUN_TIME, ACCUMULATED_WORDS)]
                reading = decode(*blocks, at=self._clock())
            except (ModbusFault, ValueError) as exc:
                self.comms_health, events = self.comms_health.bad(str(exc), self.comms)
                level = logging.WARNING if events or self.comms_health.consecutive_failures == 1 else logging.DEBUG
                log.log(level, "DSE %s:%d: немає відповіді / no answer (%s) [%d поспіль / in a row]",
                        self.host, self.port, exc, self.comms_health.consecutive_failures)
                return self._emit(events)
        self.reading = reading
        self.comms_health, events = self.comms_health.good()
        if (self.running, self.output) != (was_running, had_output) and self.on_change is not None:
            self.on_change(self.running)
        return self._emit(events)

    def _emit(self, events: tuple[UpsEvent, ...]) -> tuple[UpsEvent, ...]:
        if events and self.on_events is not None:
            self.on_events(events)
        return events

    async def press(self, *keys: ControlKey) -> bool:
        """Press control keys in order; False (counted, logged) when the controller did not take them."""
        async with self._lock:
            try:
                for key in keys:
                    if not self.client.connected:
                        await asyncio.wait_for(self.client.connect(), self.timeout_s)
                    reply = await asyncio.wait_for(self.client.write_registers(
                        REG_SYSTEM_CONTROL, [int(key), 0xFFFF - int(key)], device_id=self.unit), self.timeout_s + 0.5)
                    if reply.isError():
                        raise ModbusFault(f"exception response {reply}")
            except (asyncio.TimeoutError, ModbusException, ModbusFault, OSError) as exc:
                self.commands_failed += 1
                log.error("DSE: команду не прийнято / command not taken (%s): %s",
                          ", ".join(k.name for k in keys), exc)
                return False
        log.info("DSE: команда / command %s", ", ".join(k.name for k in keys))
        return True

    # --- what the service calls --------------------------------------------------------

    async def start(self, action: StartGenerator) -> None:
        """Manual mode, then start: the policy, not the controller, decides when it runs."""
        await self.press(ControlKey.MANUAL, ControlKey.START)

    async def stop(self, action: StopGenerator) -> None:
        await self.press(ControlKey.STOP)

    def connect_load(self) -> None:
        """The controller transfers the load itself once its own warm-up is done."""

    def disconnect_load(self) -> None:
        """Likewise: the controller takes the load off before its cool-down."""

    async def readings(self) -> dict[str, float]:
        r = self.reading if self.comms_health.data_ok else None
        if r is None:
            return {}
        values = {"fuel_percent": r.fuel_percent, "gen_battery_v": r.battery_v, "gen_frequency_hz": r.frequency_hz,
                  "gen_voltage": r.voltage_l1}
        return {k: float(v) for k, v in values.items() if v is not None}

    def begin(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dse-poll")

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.poll()
            except Exception:  # a bug must not stop the watch over the generator
                log.exception("DSE: помилка опитування / poll failed")
            await asyncio.sleep(max(0.05, self.poll_s - (time.monotonic() - started)))

    def health(self) -> dict[str, Any]:
        r = self.reading
        return {"kind": self.kind, "running": self.running, "output": self.output, "comms": str(self.comms_health.state),
                "timeouts": self.timeouts, "failures": self.comms_health.total_failures,
                "commands_failed": self.commands_failed, "stale": not self.comms_health.data_ok,
                "engine_state": None if r is None else r.engine_state, "mode": None if r is None else r.mode,
                "fuel_percent": None if r is None else r.fuel_percent,
                "controller_run_hours": None if r is None or r.run_time_s is None else round(r.run_time_s / 3600, 2),
                "controller_starts": None if r is None else r.starts}

    async def close(self) -> None:
        await cancel_and_wait([self._task])
        self.client.close()
