"""The devices of a deputy's console: seat buttons and lights (gpiozero), card reader (pyserial).

One small interface per device kind, as gpiozero does it:

* :class:`SeatDevices` — one seat: the За / Проти / Утримався buttons, the
  presence (touch) sensor, a LED per choice and the status LED.
* :class:`CardReader` — a card reader at a seat (an interface, as gpiozero's
  device bases are): :class:`Rdm6300Reader` is the real one, an RDM6300
  125 kHz reader on any pyserial URL (a device path, ``/dev/serial0``,
  ``loop://``); ``voting.console.sim.SimulatedCardReader`` is the simulated
  one, the same driver reading a pretend RDM6300 on a real pty.

The real/simulated choice is made by configuration, in ``voting.console.role``:
the gpiozero pin factory (``gpio.pin_factory``; ``mock`` pins are driven by
``voting.console.sim``, the code that reads them is the same) and the card
reader's ``url`` (``sim``: the simulated reader). Pin and serial callbacks
arrive on other threads; both adapters hand them to the asyncio loop with
``call_soon_threadsafe`` and do all their deciding there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Callable, Protocol, runtime_checkable

import serial
from gpiozero import LED, DigitalInputDevice
from gpiozero.pins import Factory

from voting.protocol import BUTTON_INPUTS

log = logging.getLogger("hromada.console.hardware")

PRESENCE = "presence"


# -- inputs: debounce and flapping (pure) ---------------------------------------------

class Edge(StrEnum):
    """What one reported change of an input means."""

    PRESS = "press"        # became active: a button press counts
    RELEASE = "release"
    BOUNCE = "bounce"      # too soon after the last accepted edge: contact bounce
    IGNORED = "ignored"    # the input is in fault
    FAULT = "fault"        # this edge made the input a flapping fault


class InputWatch:
    """Debounce and flapping detection for one input, over explicit times.

    gpiozero's ``bounce_time`` is also set on the pin, but not every pin
    backend applies it (the mock factory does not), so the same rule is kept
    here: an edge within ``bounce_s`` of the last accepted edge is bounce.
    More than ``flap_edges`` accepted edges within ``flap_window_s`` make the
    input a fault; it is ignored until it has been quiet for ``flap_window_s``.
    """

    def __init__(self, bounce_s: float, flap_edges: int, flap_window_s: float) -> None:
        self.bounce_s = bounce_s
        self.flap_edges = flap_edges
        self.flap_window_s = flap_window_s
        self.faulted = False
        self.last_edge: float | None = None
        self._last_accepted: float | None = None
        self._recent: deque[float] = deque()

    def edge(self, active: bool, now: float) -> Edge:
        if self.faulted:
            self.last_edge = now
            return Edge.IGNORED
        self.last_edge = now
        if self._last_accepted is not None and now - self._last_accepted < self.bounce_s:
            return Edge.BOUNCE
        self._last_accepted = now
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - self.flap_window_s:
            self._recent.popleft()
        if len(self._recent) > self.flap_edges:
            self.faulted = True
            self._recent.clear()
            return Edge.FAULT
        return Edge.PRESS if active else Edge.RELEASE

    def settle(self, now: float) -> bool:
        """Clear the fault once the input has been quiet long enough; True when it just settled."""
        if self.faulted and self.last_edge is not None and now - self.last_edge >= self.flap_window_s:
            self.faulted = False
            return True
        return False


# -- status LED patterns ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LightPattern:
    """A LED pattern: (lit, seconds) steps, played once or repeated; one step of 0 s is steady."""

    name: str
    steps: tuple[tuple[bool, float], ...]
    repeat: bool = False


DARK = LightPattern("off", ((False, 0.0),))
REGISTERED = LightPattern("registered", ((True, 0.0),))
ATTENTION = LightPattern("attention", ((True, 0.5), (False, 0.5)), repeat=True)
REFUSED = LightPattern("refused", ((False, 0.15),) + ((True, 0.1), (False, 0.1)) * 3)  # dark first: visible on any base
HALL_LOST = LightPattern("hall_lost", ((True, 0.1), (False, 0.15), (True, 0.1), (False, 0.9)), repeat=True)


class StatusLight:
    """A LED that shows a base pattern, interrupted by one-off flashes (e.g. a refusal)."""

    def __init__(self, led: LED) -> None:
        self.led = led
        self.base = DARK
        self.flashing: LightPattern | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def pattern(self) -> str:
        return (self.flashing or self.base).name

    def show(self, pattern: LightPattern) -> None:
        if pattern == self.base:
            return
        self.base = pattern
        if self.flashing is None:
            self._restart()

    def flash(self, pattern: LightPattern) -> None:
        self.flashing = pattern
        self._restart()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _restart(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._play())

    async def _play(self) -> None:
        if self.flashing is not None:
            await self._run(self.flashing)
            self.flashing = None
        while True:
            await self._run(self.base)
            if not self.base.repeat:
                return

    async def _run(self, pattern: LightPattern) -> None:
        for lit, seconds in pattern.steps:
            self.led.value = lit
            if seconds:
                await asyncio.sleep(seconds)


# -- one seat ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SeatPins:
    """BCM pin numbers of one seat; ``presence`` is None when no sensor is fitted."""

    seat: str
    za: int
    proty: int
    utrymavsia: int
    presence: int | None
    led_za: int
    led_proty: int
    led_utrymavsia: int
    led_status: int


@dataclass(frozen=True, slots=True)
class Press:
    """A debounced press of a vote button, with whether presence was held at that moment."""

    seat: str
    input: str
    choice: str
    presence: bool
    at: float


class SeatDevices:
    """The buttons, presence sensor and LEDs of one deputy's seat.

    ``on_press(Press)`` and ``on_fault(seat, input, faulted)`` are called in
    the asyncio loop. Presses of a faulted input are never reported.
    """

    def __init__(self, pins: SeatPins, factory: Factory, on_press: Callable[[Press], None],
                 on_fault: Callable[[str, str, bool], None], *, bounce_s: float = 0.05, flap_edges: int = 12,
                 flap_window_s: float = 2.0) -> None:
        self.seat = pins.seat
        self.pins = pins
        self.on_press = on_press
        self.on_fault = on_fault
        self._loop = asyncio.get_running_loop()
        self.inputs: dict[str, DigitalInputDevice] = {}
        self.leds: dict[str, LED] = {}
        self.watches: dict[str, InputWatch] = {}
        self.status: StatusLight | None = None  # made once every pin is claimed
        self._closed = False
        try:
            # DigitalInputDevice rather than Button: Button starts a hold-timer thread we never use.
            for name in BUTTON_INPUTS:  # pull-up, the button closes to ground
                self.inputs[name] = DigitalInputDevice(getattr(pins, name), pull_up=True, bounce_time=bounce_s,
                                                       pin_factory=factory)
            if pins.presence is not None:
                # Pull-down, active high (TTP223-style touch module): a missing sensor reads "nobody there".
                self.inputs[PRESENCE] = DigitalInputDevice(pins.presence, pull_up=False, bounce_time=bounce_s,
                                                           pin_factory=factory)
            for name in BUTTON_INPUTS:
                self.leds[name] = LED(getattr(pins, "led_" + name), pin_factory=factory)
            self.leds["status"] = LED(pins.led_status, pin_factory=factory)
        except Exception:
            self.close()
            raise
        self.status = StatusLight(self.leds["status"])
        for name, device in self.inputs.items():
            self.watches[name] = InputWatch(bounce_s, flap_edges, flap_window_s)
            device.when_activated = self._from_pin_thread(name, True)
            device.when_deactivated = self._from_pin_thread(name, False)

    @property
    def faults(self) -> list[str]:
        return [name for name, watch in self.watches.items() if watch.faulted]

    def show_choice(self, choice: str | None) -> None:
        """Light the LED of the hall's recorded choice, and only that one."""
        for name, label in BUTTON_INPUTS.items():
            self.leds[name].value = label == choice

    def lights(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: bool(self.leds[name].value) for name in BUTTON_INPUTS}
        out.update(status=bool(self.leds["status"].value), status_pattern=self.status.pattern)
        return out

    def close(self) -> None:
        self._closed = True
        if self.status is not None:
            self.status.close()
        for device in [*self.inputs.values(), *self.leds.values()]:
            with contextlib.suppress(Exception):
                device.close()

    def _from_pin_thread(self, name: str, active: bool) -> Callable[[], None]:
        def changed() -> None:
            # Runs on the pin backend's thread: take the time and the presence now, decide in the loop.
            now = time.monotonic()
            presence = self.inputs.get(PRESENCE)
            held = presence is not None and presence.is_active
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._edge, name, active, now, held)
        return changed

    def _edge(self, name: str, active: bool, now: float, presence_held: bool) -> None:
        if self._closed:
            return
        watch = self.watches[name]
        if watch.settle(now):
            self.on_fault(self.seat, name, False)
        verdict = watch.edge(active, now)
        if verdict is Edge.FAULT:
            log.warning("seat %s: input %s is flapping; ignored until it settles", self.seat, name)
            self.on_fault(self.seat, name, True)
            self._loop.call_later(watch.flap_window_s, self._check_settled, name)
        elif verdict is Edge.PRESS and name in BUTTON_INPUTS:
            held = presence_held and PRESENCE in self.watches and not self.watches[PRESENCE].faulted
            self.on_press(Press(self.seat, name, BUTTON_INPUTS[name], held, now))

    def _check_settled(self, name: str) -> None:
        if self._closed:
            return
        watch = self.watches[name]
        if watch.settle(time.monotonic()):
            log.info("seat %s: input %s settled", self.seat, name)
            self.on_fault(self.seat, name, False)
        elif watch.faulted and watch.last_edge is not None:
            wait = watch.last_edge + watch.flap_window_s - time.monotonic()
            self._loop.call_later(max(wait, 0.05), self._check_settled, name)


# -- RDM6300 card reader ---------------------------------------------------------------------

STX, ETX = 0x02, 0x03
_HEX = frozenset(b"0123456789ABCDEFabcdef")


def rdm6300_frame(card: str) -> bytes:
    """The frame an RDM6300 sends for a card: STX, 10 hex data, 2 hex XOR checksum, ETX."""
    data = bytes.fromhex(card) if len(card) == 10 else b""
    if len(data) != 5:
        raise ValueError("an RDM6300 card id is 10 hex characters")
    checksum = 0
    for b in data:
        checksum ^= b
    return bytes([STX]) + data.hex().upper().encode() + f"{checksum:02X}".encode() + bytes([ETX])


@dataclass
class ReaderStats:
    """What a card reader has seen: good frames, bad ones, and port trouble."""

    frames: int = 0
    cards: int = 0          # presentations reported (repeats of a held card not counted)
    repeats: int = 0
    bad_checksum: int = 0
    bad_frames: int = 0     # wrong length, non-hex characters, or cut short by a new STX
    junk_bytes: int = 0     # bytes outside any frame
    port_errors: int = 0


class Rdm6300Parser:
    """Strict, incremental parser of the RDM6300 byte stream; bad input is counted, never raised."""

    def __init__(self, stats: ReaderStats | None = None) -> None:
        self.stats = stats or ReaderStats()
        self._frame: bytearray | None = None

    def feed(self, data: bytes) -> list[str]:
        """The card ids (10 uppercase hex characters) of the frames completed by ``data``."""
        cards: list[str] = []
        for b in data:
            if self._frame is None:
                if b == STX:
                    self._frame = bytearray()
                else:
                    self.stats.junk_bytes += 1
            elif b == STX:
                self.stats.bad_frames += 1
                self._frame = bytearray()
            elif b == ETX:
                card = self._finish(bytes(self._frame))
                self._frame = None
                if card is not None:
                    cards.append(card)
            elif len(self._frame) <= 12:  # one past 12 is enough to know the length is wrong
                self._frame.append(b)
        return cards

    def _finish(self, body: bytes) -> str | None:
        if len(body) != 12 or not _HEX.issuperset(body):
            self.stats.bad_frames += 1
            return None
        raw = bytes.fromhex(body.decode("ascii"))
        checksum = 0
        for b in raw[:5]:
            checksum ^= b
        if checksum != raw[5]:
            self.stats.bad_checksum += 1
            return None
        self.stats.frames += 1
        return body[:10].decode("ascii").upper()


class PresentationFilter:
    """One report per presentation: a card held to the antenna repeats its frame every ~0.1 s."""

    def __init__(self, repeat_s: float = 1.0) -> None:
        self.repeat_s = repeat_s
        self._last: dict[str, float] = {}

    def fresh(self, card: str, now: float) -> bool:
        last = self._last.get(card)
        self._last = {c: t for c, t in self._last.items() if now - t < self.repeat_s}
        self._last[card] = now  # a held card keeps extending its presentation
        return last is None or now - last >= self.repeat_s


@runtime_checkable
class CardReader(Protocol):
    """A card reader at one seat: each presentation of a card is reported once, in the asyncio loop.

    A reader is made with the seat's ``on_card(card_id)`` callback; it never
    raises on bad frames or a missing port, it counts them in :attr:`stats`
    and says so in :meth:`health`.
    """

    stats: ReaderStats
    port_open: bool

    def start(self) -> None:
        """Begin reading (in the running loop)."""
        ...

    async def stop(self) -> None:
        """Stop reading and let go of the port."""
        ...

    def health(self) -> dict[str, Any]:
        """What the node's health reports of this reader: port state, last error, counters."""
        ...


class Rdm6300Reader:
    """The real :class:`CardReader`: an RDM6300 on a pyserial URL; ``on_card(card_id)`` is called in the loop.

    The blocking reads run in a thread of their own; a port that cannot be
    opened or fails is retried every ``reopen_s`` seconds.
    """

    def __init__(self, url: str, on_card: Callable[[str], None], *, repeat_s: float = 1.0,
                 reopen_s: float = 2.0) -> None:
        self.url = url
        self.on_card = on_card
        self.reopen_s = reopen_s
        self.stats = ReaderStats()
        self.port_open = False
        self.last_error = ""
        self._parser = Rdm6300Parser(self.stats)
        self._filter = PresentationFilter(repeat_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"rdm6300 {self.url}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)

    def health(self) -> dict[str, Any]:
        return {"url": self.url, "port_open": self.port_open, "last_error": self.last_error, **asdict(self.stats)}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with serial.serial_for_url(self.url, baudrate=9600, timeout=0.1) as port:
                    self.port_open, self.last_error = True, ""
                    while not self._stop.is_set():
                        self._received(port.read(64))
            except (serial.SerialException, OSError, ValueError) as exc:
                self.stats.port_errors += 1
                if str(exc) != self.last_error:
                    log.warning("card reader %s: %s", self.url, exc)
                self.last_error = str(exc)
            self.port_open = False
            self._stop.wait(self.reopen_s)

    def _received(self, data: bytes) -> None:
        for card in self._parser.feed(data):
            if not self._filter.fresh(card, time.monotonic()):
                self.stats.repeats += 1
                continue
            self.stats.cards += 1
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self.on_card, card)
