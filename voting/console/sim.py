"""Simulated console hardware: pretend deputies on mock pins, a pretend card reader on a pty.

Everything here acts *from outside* the console code: it drives gpiozero
mock pins and writes bytes into a real pty, so the demo and the tests run
the same ``SeatDevices`` and ``Rdm6300Reader`` code as a board does.

* :class:`SeatSimulator` — a deputy's hands at one seat (buttons, presence)
  and eyes on its LEDs.
* :class:`Rdm6300Pty` — a pretend RDM6300 on a pty: what a card held to its
  antenna sends down the line.
* :class:`SimulatedCardReader` — the simulated ``CardReader``
  (``card_reader.url = "sim"``): the real driver reading an :class:`Rdm6300Pty`.
* :class:`Scenario` — the demo (``scenario = "demo"``): seats register and vote.
* :func:`add_sim_routes` — ``POST /sim/press``, ``POST /sim/card``,
  ``GET /sim/leds`` on the node's own server, so tests in other processes can
  play the deputies. They exist only with ``gpio.pin_factory = "mock"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import tty
from typing import TYPE_CHECKING, Any, Callable, Coroutine

from aiohttp import web
from gpiozero.pins.mock import MockPin

from edge.web import error, json_response, parse_json, read_body
from voting.console.hardware import PRESENCE, Rdm6300Reader, ReaderStats, SeatDevices, rdm6300_frame
from voting.protocol import BUTTON_INPUTS

if TYPE_CHECKING:
    from voting.console.service import ConsoleRole

log = logging.getLogger("hromada.console.sim")

_BY_CHOICE = {label: name for name, label in BUTTON_INPUTS.items()}


def button_input(button: str) -> str:
    """The input name of a button given as `za` or as its choice «За»; ValueError otherwise."""
    name = _BY_CHOICE.get(button, button)
    if name not in BUTTON_INPUTS:
        raise ValueError(f"unknown button {button!r}; one of {', '.join([*BUTTON_INPUTS, *_BY_CHOICE])}")
    return name


class SeatSimulator:
    """A deputy at one seat: presses buttons, holds the presence sensor, looks at the LEDs."""

    def __init__(self, devices: SeatDevices) -> None:
        for device in devices.inputs.values():
            if not isinstance(device.pin, MockPin):
                raise TypeError("a seat can be simulated only on gpiozero mock pins")
        self.devices = devices

    def set_input(self, name: str, active: bool) -> None:
        """Make an input active (pressed, touched) or not, whatever its wiring."""
        device = self.devices.inputs[name]
        high = active != device.pull_up  # a pulled-up button is active when low
        device.pin.drive_high() if high else device.pin.drive_low()

    def hold_presence(self, held: bool = True) -> None:
        """Touch (or let go of) the presence sensor; a seat without one ignores this."""
        if PRESENCE in self.devices.inputs:
            self.set_input(PRESENCE, held)

    async def press(self, button: str, presence: bool = True, hold_s: float = 0.08) -> None:
        """Press and release a vote button, with the presence sensor held throughout or not at all."""
        name = button_input(button)
        self.hold_presence(presence)
        self.set_input(name, True)
        await asyncio.sleep(hold_s)
        self.set_input(name, False)
        self.hold_presence(False)

    def chatter(self, button: str, edges: int = 6) -> None:
        """One press with contact bounce: ``edges`` changes back to back, ending pressed, then released."""
        name = button_input(button)
        for i in range(edges | 1):  # odd: the last change leaves it pressed
            self.set_input(name, i % 2 == 0)
        self.set_input(name, False)

    async def flap(self, name: str, edges: int, interval_s: float) -> None:
        """A loose wire or a failing sensor: ``edges`` changes, ``interval_s`` apart."""
        for i in range(edges):
            self.set_input(name, i % 2 == 0)
            await asyncio.sleep(interval_s)
        self.set_input(name, False)

    def lights(self) -> dict[str, Any]:
        """Which LEDs are lit now, and the status LED's pattern name."""
        return self.devices.lights()


class Rdm6300Pty:
    """A pretend RDM6300 on a real pty; the real reader opens :attr:`path` like a USB serial port."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # ETX (0x03) is Ctrl-C to a cooked terminal
        os.set_blocking(self._master, False)  # nobody reading must not block the simulator
        self.path = os.ttyname(self._slave)
        self._fds: tuple[int, ...] = (self._master, self._slave)

    def write(self, data: bytes) -> None:
        """Raw bytes on the line (for corrupt frames and junk)."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._master, data)

    async def present(self, card: str, hold_s: float = 0.3, every_s: float = 0.1) -> None:
        """Hold a card to the antenna: its frame repeats every ``every_s`` for ``hold_s``."""
        frame = rdm6300_frame(card)
        for _ in range(max(1, round(hold_s / every_s))):
            self.write(frame)
            await asyncio.sleep(every_s)

    def close(self) -> None:
        fds, self._fds = self._fds, ()  # once only: a closed fd's number may already be someone else's
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


class SimulatedCardReader:
    """The simulated :class:`~voting.console.hardware.CardReader`: the real driver on a pretend RDM6300.

    Chosen by configuration (``card_reader.url = "sim"``, mock pins only).
    :meth:`present` holds a card to its antenna; everything after that — the
    frames, their parsing, the repeat filter — is the real code.
    """

    def __init__(self, on_card: Callable[[str], None], *, repeat_s: float = 1.0, reopen_s: float = 2.0) -> None:
        self.device = Rdm6300Pty()
        self.driver = Rdm6300Reader(self.device.path, on_card, repeat_s=repeat_s, reopen_s=reopen_s)

    @property
    def stats(self) -> ReaderStats:
        return self.driver.stats

    @property
    def port_open(self) -> bool:
        return self.driver.port_open

    def start(self) -> None:
        self.driver.start()

    async def stop(self) -> None:
        await self.driver.stop()
        self.close()

    def health(self) -> dict[str, Any]:
        return self.driver.health()

    async def present(self, card: str, hold_s: float = 0.3, every_s: float = 0.1) -> None:
        """Hold a card to the antenna (see :meth:`Rdm6300Pty.present`)."""
        await self.device.present(card, hold_s, every_s)

    def close(self) -> None:
        """Close the pty (the driver, if still reading, reports the port lost)."""
        self.device.close()


# -- the demo -------------------------------------------------------------------------------------

# Share of «За» among the seats that choose, drawn per vote, so that some motions pass and some fail.
MOODS = (0.9, 0.75, 0.55, 0.3)
NOT_VOTING = 0.07


def plan_choice(rng: random.Random, share_for: float) -> str | None:
    """What one pretend deputy does in a vote: a choice, or None (does not vote)."""
    if rng.random() < NOT_VOTING:
        return None
    r = rng.random()
    if r < share_for:
        return "За"
    return "Проти" if r < share_for + (1 - share_for) * 0.65 else "Утримався"


class Scenario:
    """The demo's deputies: register when registration opens, vote when a vote opens.

    They act only through the seat's mock pins and simulated card readers.
    ``pace`` scales every delay (tests run it faster).
    """

    def __init__(self, role: ConsoleRole, rng: random.Random | None = None, pace: float = 1.0) -> None:
        self.role = role
        self.rng = rng or random.Random()
        self.pace = pace
        self.sims = {seat: SeatSimulator(devices) for seat, devices in role.seats.items()}
        self.cards = {s.seat: s.demo_card for s in role.config.seats if s.demo_card}
        self.plans: dict[str, dict[str, str | None]] = {}  # vote uid -> seat -> choice (None: does not vote)
        self._registering: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.role.listeners.append(self._changed)

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.role.listeners.remove(self._changed)
        for task in self._tasks:
            task.cancel()

    def _changed(self) -> None:
        role = self.role
        uid = (role.vote or {}).get("uid")
        if uid is None and role.registration_open:
            for seat, view in role.views.items():
                if view.known and not view.registered and seat not in self._registering:
                    self._registering.add(seat)
                    self._spawn(self._register(seat))
        if uid is not None and uid not in self.plans:
            share_for = self.rng.choice(MOODS)
            plan = {seat: plan_choice(self.rng, share_for) for seat, v in role.views.items() if v.registered}
            self.plans[uid] = plan
            log.info("demo: vote %s, plan %s", uid, plan)
            for seat, choice in plan.items():
                if choice is not None:
                    self._spawn(self._vote(seat, uid, choice))

    async def _register(self, seat: str) -> None:
        try:
            await asyncio.sleep(self.rng.uniform(0.3, 3.0) * self.pace)
            if self.role.views[seat].registered or not self.role.registration_open or self.role.vote:
                return
            reader = self.role.sim_readers.get(seat)
            if reader is not None and seat in self.cards:
                await reader.present(self.cards[seat])
            else:
                await self.sims[seat].press("za", presence=True)
            await asyncio.sleep(1.0)  # leave time for the hall's answer before trying again
        finally:
            self._registering.discard(seat)

    async def _vote(self, seat: str, uid: str, choice: str) -> None:
        await asyncio.sleep(self.rng.uniform(0.5, 6.0) * self.pace)
        if (self.role.vote or {}).get("uid") == uid and self.role.views[seat].choice is None:
            await self.sims[seat].press(choice, presence=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# -- control routes (mock pins only) -----------------------------------------------------------

def add_sim_routes(app: web.Application, role: ConsoleRole) -> None:
    """``POST /sim/press`` {seat, button, presence}, ``POST /sim/card`` {seat, card}, ``GET /sim/leds``.

    Added by the console factory only when the pins are mock pins; there is
    nothing to press on a real board.
    """
    sims = {seat: SeatSimulator(devices) for seat, devices in role.seats.items()}

    async def body_with_seat(request: web.Request) -> tuple[dict[str, Any], str]:
        body = parse_json(await read_body(request))
        if not isinstance(body, dict):
            raise error(400, "bad_request", "тіло має бути об'єктом JSON / the body must be a JSON object")
        seat = str(body.get("seat", ""))
        if seat not in sims:
            raise error(404, "unknown_seat", f"цей пульт не обслуговує місце «{seat}» / no seat {seat!r} here")
        return body, seat

    async def press(request: web.Request) -> web.Response:
        body, seat = await body_with_seat(request)
        presence = body.get("presence", True)
        if not isinstance(presence, bool):
            raise error(400, "bad_request", "presence: true або false / presence must be true or false")
        try:
            button = button_input(str(body.get("button", "")))
        except ValueError as exc:
            raise error(400, "unknown_button", str(exc)) from None
        await sims[seat].press(button, presence)
        return json_response({"ok": True})

    async def card(request: web.Request) -> web.Response:
        body, seat = await body_with_seat(request)
        reader = role.sim_readers.get(seat)
        if reader is None:
            raise error(409, "no_simulated_reader",
                        f"місце «{seat}» не має імітованого зчитувача / seat {seat!r} has no simulated reader")
        try:
            frame_card = str(body.get("card", ""))
            rdm6300_frame(frame_card)
        except ValueError:
            raise error(400, "bad_card", "картка: 10 шістнадцяткових знаків / card must be 10 hex characters") from None
        await reader.present(frame_card)
        return json_response({"ok": True})

    async def leds(request: web.Request) -> web.Response:
        return json_response({seat: sim.lights() for seat, sim in sims.items()})

    app.router.add_post("/sim/press", press)
    app.router.add_post("/sim/card", card)
    app.router.add_get("/sim/leds", leds)
