"""A simulated generator, mains supply and fuel sender on gpiozero mock pins.

Everything here acts from outside the role's code, as the real set and the
grid would: :class:`SimulatedGenerator` watches the relay pins the role
drives and answers on the running (and output) input pins after a start
delay; :class:`SimulatedMains` drives the mains input; :class:`SimulatedFuelSender`
answers the MCP3008's SPI transfers. So the demo and the tests run exactly the
code a board runs (``power.hardware``), only on mock pins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin, MockSPIDevice

from power.hardware import HeldInput, WiredGenerator
from power.policy import Contact

log = logging.getLogger("hromada.power.sim")

_WATCH_S = 0.02  # how often the simulated set looks at its relay pins


def drive(inp: HeldInput, active: bool) -> None:
    """Put ``inp``'s wire in the state that it reads as ``active``, whatever its wiring."""
    pin = inp.device.pin
    if not isinstance(pin, MockPin):
        raise TypeError("only gpiozero mock pins can be driven by a simulator")
    pin.drive_high() if active == inp.active_high else pin.drive_low()


class SimulatedMains:
    """The grid at the mains sensor: cut it, bring it back."""

    def __init__(self, sensor: HeldInput, present: bool = True) -> None:
        self.sensor = sensor
        self.present = present
        drive(sensor, present)

    def cut(self) -> None:
        self.present = False
        drive(self.sensor, False)

    def restore(self) -> None:
        self.present = True
        drive(self.sensor, True)


class SimulatedGenerator:
    """A small petrol set behind the relays of a :class:`WiredGenerator`.

    Two-wire: it cranks while RUN is closed and stops when it opens.
    Three-wire: a START pulse cranks it, a STOP pulse stops it. It runs
    ``start_delay_s`` after the crank began, unless ``fail_starts`` says the
    next attempts fail (or ``always_fail``); with ``no_output`` it runs
    but its alternator gives nothing. ``fuel`` drains while it runs.
    """

    def __init__(self, generator: WiredGenerator, *, start_delay_s: float = 1.0, stop_delay_s: float = 0.5,
                 fail_starts: int = 0, no_output: bool = False, fuel: SimulatedFuelSender | None = None,
                 fuel_per_hour: float = 0.25) -> None:
        self.generator = generator
        self.start_delay_s, self.stop_delay_s = start_delay_s, stop_delay_s
        self.fail_starts, self.always_fail, self.no_output = fail_starts, False, no_output
        self.fuel, self.fuel_per_hour = fuel, fuel_per_hour
        self.running = False
        self.cranks = 0
        self._crank: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._last = dict(generator.relays.closed())
        self._set_running(False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="sim-generator")

    async def stop(self) -> None:
        for task in (self._task, self._crank, self._stopping):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def configure(self, *, fail_starts: int | None = None, always_fail: bool | None = None,
                  no_output: bool | None = None) -> None:
        """Change the faults of the coming starts (the /sim route and the demo use this)."""
        if fail_starts is not None:
            self.fail_starts = max(0, fail_starts)
        if always_fail is not None:
            self.always_fail = always_fail
        if no_output is not None:
            self.no_output = no_output
            if self.running:
                self._set_running(True)

    def state(self) -> dict[str, Any]:
        return {"running": self.running, "cranks": self.cranks, "fail_starts": self.fail_starts,
                "always_fail": self.always_fail, "no_output": self.no_output,
                "fuel_percent": None if self.fuel is None else round(self.fuel.level * 100, 1)}

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(_WATCH_S)
            now = self.generator.relays.closed()
            rising = {c for c, closed in now.items() if closed and not self._last.get(c)}
            falling = {c for c, closed in now.items() if not closed and self._last.get(c)}
            self._last = now
            if Contact.RUN in rising or Contact.START in rising:
                self._begin_crank()
            if Contact.RUN in falling or Contact.STOP in rising:
                self._begin_stop()
            if self.running and self.fuel is not None:
                self.fuel.level = max(0.0, self.fuel.level - self.fuel_per_hour * _WATCH_S / 3600)

    def _begin_crank(self) -> None:
        if self._stopping is not None:
            self._stopping.cancel()
        if self.running or (self._crank is not None and not self._crank.done()):
            return
        self.cranks += 1
        self._crank = asyncio.create_task(self._cranking(), name="sim-generator-crank")

    async def _cranking(self) -> None:
        await asyncio.sleep(self.start_delay_s)
        if self.always_fail or self.fail_starts > 0:
            self.fail_starts = max(0, self.fail_starts - 1)
            log.info("імітований генератор не завівся / simulated generator failed to start")
            return
        if self.generator.relays.closed().get(str(Contact.RUN), True):  # two-wire: RUN still closed
            self._set_running(True)

    def _begin_stop(self) -> None:
        if self._crank is not None:
            self._crank.cancel()
        if self.running and (self._stopping is None or self._stopping.done()):
            self._stopping = asyncio.create_task(self._run_down(), name="sim-generator-stop")

    async def _run_down(self) -> None:
        await asyncio.sleep(self.stop_delay_s)
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.running = running
        drive(self.generator.running_input, running)
        if self.generator.output_input is not None:
            drive(self.generator.output_input, running and not self.no_output)


class SimulatedFuelSender(MockSPIDevice):
    """An MCP3008 with a fuel level sender on ``channel``, on the mock SPI0 pins (11, 10, 9, 8).

    MCP3008 transfer: the host sends a start bit, the single-ended bit and
    three channel bits; the chip answers a null bit and ten data bits that
    end with the third byte.
    """

    def __init__(self, factory: MockFactory, channel: int, level: float = 0.8, empty: float = 0.1,
                 full: float = 0.9) -> None:
        super().__init__(11, 10, 9, 8, pin_factory=factory)
        self.channel, self.level, self.empty, self.full = channel, level, empty, full

    def reading(self) -> int:
        ratio = self.empty + (self.full - self.empty) * self.level
        return max(0, min(1023, round(ratio * 1023)))

    def on_bit(self) -> None:
        buf = self.rx_buf
        if 1 not in buf:
            return
        start = buf.index(1)
        if len(buf) == start + 5:  # start, single-ended, three channel bits received
            channel = buf[start + 2] * 4 + buf[start + 3] * 2 + buf[start + 4]
            value = self.reading() if channel == self.channel else 0
            self.tx_word(value, 12)  # one bit still in the command byte, the null bit, ten data bits
