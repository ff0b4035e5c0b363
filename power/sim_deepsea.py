"""A simulated Deep Sea controller: a real Modbus TCP server (pymodbus) on loopback.

It answers the GenComm registers :mod:`power.deepsea` reads and obeys the
control keys written to 4104–4105 (each with its complement, as the real
unit insists). A start in manual mode cranks for ``start_delay_s``, then the
engine warms up and runs; ``fail_starts`` makes the coming starts fail; STOP
cools it down and stops it. ``hang`` makes it stop answering (the client's
timeout), ``not_implemented`` marks registers the unit does not have.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

from power.deepsea import (NOT_IMPLEMENTED, REG_CONTROL_MODE, REG_ENGINE_STATE, REG_INSTRUMENTS, REG_RUN_TIME,
                           REG_SYSTEM_CONTROL, ControlKey, ControlMode, EngineState)

_WORDS = 4200


class SimulatedDse:
    """One DSE controller; ``start()`` binds ``127.0.0.1:port`` (0 picks a free port)."""

    def __init__(self, unit: int = 10, port: int = 0, *, start_delay_s: float = 0.5, warmup_s: float = 0.3,
                 cooldown_s: float = 0.3, fuel_percent: int = 76, clock: Callable[[], float] = time.monotonic) -> None:
        self.unit, self.requested_port = unit, port
        self.start_delay_s, self.warmup_s, self.cooldown_s = start_delay_s, warmup_s, cooldown_s
        self.fuel_percent = fuel_percent
        self.fail_starts = 0
        self.hang = False
        self.not_implemented: set[int] = set()
        self.mode = ControlMode.AUTO
        self.state = EngineState.STOPPED
        self.run_time_s = 3600 * 12
        self.starts = 40
        self.keys: list[int] = []
        self._clock = clock
        self._since = clock()
        self._last = clock()
        self._server: ModbusTcpServer | None = None
        self.port = port

    async def start(self) -> SimulatedDse:
        device = SimDevice(id=self.unit, simdata=[SimData(0, count=_WORDS, values=0, datatype=DataType.REGISTERS)],
                           action=self._action)
        if self.requested_port == 0:
            import socket
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
        await self._server.serve_forever(background=True)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    # --- the controller's behaviour --------------------------------------------

    def _advance(self) -> None:
        now = self._clock()
        in_state = now - self._since
        if self.state in (EngineState.WARMING_UP, EngineState.RUNNING, EngineState.COOLING_DOWN):
            self.run_time_s += int(now - self._last)
        self._last = now
        if self.state is EngineState.PRE_START and in_state >= self.start_delay_s:
            if self.fail_starts > 0:
                self.fail_starts -= 1
                self._go(EngineState.STOPPED, now)
            else:
                self.starts += 1
                self._go(EngineState.WARMING_UP, now)
        elif self.state is EngineState.WARMING_UP and in_state >= self.warmup_s:
            self._go(EngineState.RUNNING, now)
        elif self.state is EngineState.COOLING_DOWN and in_state >= self.cooldown_s:
            self._go(EngineState.STOPPED, now)

    def _go(self, state: EngineState, now: float) -> None:
        self.state, self._since = state, now

    def _key(self, key: int) -> None:
        self.keys.append(key)
        now = self._clock()
        if key == ControlKey.MANUAL:
            self.mode = ControlMode.MANUAL
        elif key == ControlKey.AUTO:
            self.mode = ControlMode.AUTO
        elif key == ControlKey.START and self.mode is ControlMode.MANUAL and self.state is EngineState.STOPPED:
            self._go(EngineState.PRE_START, now)
        elif key == ControlKey.STOP:
            self.mode = ControlMode.STOP
            if self.state is EngineState.PRE_START:
                self._go(EngineState.STOPPED, now)
            elif self.state in (EngineState.WARMING_UP, EngineState.RUNNING):
                self._go(EngineState.COOLING_DOWN, now)

    def _fill(self, regs: list[int], start: int) -> None:
        running = self.state in (EngineState.WARMING_UP, EngineState.RUNNING, EngineState.COOLING_DOWN)
        values = {REG_CONTROL_MODE: int(self.mode), REG_ENGINE_STATE: int(self.state),
                  REG_INSTRUMENTS: 380 if running else 0, REG_INSTRUMENTS + 1: 82 if running else 21,
                  REG_INSTRUMENTS + 2: NOT_IMPLEMENTED, REG_INSTRUMENTS + 3: self.fuel_percent,
                  REG_INSTRUMENTS + 4: NOT_IMPLEMENTED, REG_INSTRUMENTS + 5: 138 if running else 126,
                  REG_INSTRUMENTS + 6: 1500 if running else 0, REG_INSTRUMENTS + 7: 500 if running else 0,
                  REG_INSTRUMENTS + 8: 0, REG_INSTRUMENTS + 9: 2300 if running else 0,
                  REG_RUN_TIME: self.run_time_s >> 16, REG_RUN_TIME + 1: self.run_time_s & 0xFFFF,
                  REG_RUN_TIME + 10: self.starts}
        for address, value in values.items():
            regs[address - start] = NOT_IMPLEMENTED if address in self.not_implemented else value

    async def _action(self, function_code: int, start: int, address: int, count: int, regs: list[int],
                      values: list[int] | list[bool] | None) -> None:
        deadline = self._clock() + 30
        while self.hang and self._clock() < deadline:  # the client gives up long before: a timeout
            await asyncio.sleep(0.05)
        self._advance()
        if values is not None and address == REG_SYSTEM_CONTROL and len(values) == 2:
            key, check = int(values[0]), int(values[1])
            if key + check == 0xFFFF:  # the unit ignores a key without its complement
                self._key(key)
            return None
        self._fill(regs, start)
        return None
