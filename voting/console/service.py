"""The `console` role: deputies' voting consoles talking to the hall.

One node drives one or more seats (``[[roles.console.seats]]``). A press
goes to the hall at once, as a ``press`` of ``voting.protocol``; the LEDs
change only on what the hall answers (``ack`` / ``refused`` / ``state``), so
a choice LED never lights before the ballot is committed. Nothing is queued
while the hall is away: a vote must never arrive late, so a press then is
refused on the spot and the status LED shows the lost link.

Presence rule: with ``presence_required = true`` (the default) a press made
without the presence sensor held is refused *on the console*, at once, and
never sent (so leaning on a neighbour's buttons produces no traffic and no
ballot). With ``false`` every press is sent with the true ``presence`` flag
and the hall applies the council's own setting.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable

from edge.config import ConfigError, option, required, build_section, http_url, label, positive
from edge.discovery import NODE_SERVICE, Peer
from edge.node import RoleContext
from edge.peers import PeerClient, roster_lookup
from edge.timeutil import iso_utc, uuid7
from edge.gpio import pin_factory
from voting.console.hardware import (ATTENTION, DARK, HALL_LOST, REFUSED, REGISTERED, CardReader, LightPattern,
                             Press, SeatDevices, SeatPins)
from voting.protocol import CHOICES, CONSOLE_PATH

log = logging.getLogger("hromada.console")

SIM_READER = "sim"  # card_reader url of a simulated reader on a pty (mock pins only)
HALL_SEARCH_S = 5.0


# -- configuration ---------------------------------------------------------------------

def bcm_pin(value: int) -> str | None:
    return None if 0 <= value <= 27 else "must be a BCM GPIO number from 0 to 27"


def optional_pin(value: int) -> str | None:
    return None if value == -1 else bcm_pin(value)


def card_id(value: str) -> str | None:
    if value and (len(value) != 10 or any(c not in "0123456789ABCDEFabcdef" for c in value)):
        return "must be 10 hex characters (the RDM6300 card id), or empty"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleSection:
    """`[roles.console]`: a node with deputies' voting consoles."""

    hall_url: str = option("", "Hall node base URL, e.g. `http://10.0.0.5:8700`. Empty: the node with role "
                             "`hall` found by mDNS whose id the hub's roster lists as a hall.", http_url)
    presence_required: bool = option(True, "Refuse, on the console, a vote button pressed without the presence sensor "
                                         "held. `false`: send every press with its presence flag; the hall decides.")
    bounce_s: float = option(0.05, "Debounce time of buttons and presence sensor, seconds.",
                           lambda v: None if 0 < v <= 0.5 else "must be greater than 0 and at most 0.5")
    flap_edges: int = option(12, "An input changing more than this many times within `flap_window_s` is a fault "
                               "(reported to the hall, its presses ignored).",
                           lambda v: None if v >= 2 else "must be at least 2")
    flap_window_s: float = option(2.0, "Window of the flapping rule, and the quiet time after which a faulty input "
                                     "is trusted again, seconds.", positive)
    scenario: str = option("", "`demo`: simulated deputies register and vote on the mock pins "
                             "(needs `gpio.pin_factory = \"mock\"`). Empty: none.",
                         lambda v: None if v in ("", "demo") else "must be \"\" or \"demo\"")


@dataclass(frozen=True, slots=True, kw_only=True)
class SeatSection:
    """`[[roles.console.seats]]`: one seat and its BCM pins."""

    seat: str = required("Seat number in the hall's seat plan, as a string, e.g. `\"12\"`.", label)
    za: int = required("Pin of the «За» button (to ground, internal pull-up).", bcm_pin)
    proty: int = required("Pin of the «Проти» button.", bcm_pin)
    utrymavsia: int = required("Pin of the «Утримався» button.", bcm_pin)
    presence: int = option(-1, "Pin of the presence (touch) sensor, active high; -1: none fitted "
                             "(allowed only with `presence_required = false`).", optional_pin)
    led_za: int = required("Pin of the green «За» LED.", bcm_pin)
    led_proty: int = required("Pin of the red «Проти» LED.", bcm_pin)
    led_utrymavsia: int = required("Pin of the yellow «Утримався» LED.", bcm_pin)
    led_status: int = required("Pin of the status LED.", bcm_pin)
    demo_card: str = option("", "Card the demo scenario presents at this seat (10 hex characters).", card_id)

    def pins(self) -> SeatPins:
        return SeatPins(self.seat, self.za, self.proty, self.utrymavsia, None if self.presence == -1 else self.presence,
                        self.led_za, self.led_proty, self.led_utrymavsia, self.led_status)


@dataclass(frozen=True, slots=True, kw_only=True)
class CardReaderSection:
    """`card_reader`: an RDM6300 reader, in a seat's table or the console's."""

    url: str = required("pyserial URL of the reader: `/dev/ttyUSB0`, `/dev/serial0`, or `sim` (a simulated reader "
                    "on a pty; mock pins only).", lambda v: None if v else "must not be empty")
    seat: str = option("", "Seat the reader serves; in a seat's table it is that seat, in the console's table it "
                         "may be left out when the console has one seat.")


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """The validated `[roles.console]` table."""

    settings: ConsoleSection
    seats: tuple[SeatSection, ...]
    readers: tuple[tuple[str, str], ...]  # (seat, url)


def parse_console_config(table: dict[str, Any], path: str, pin_factory_name: str = "mock",
                         discovery_enabled: bool = True) -> ConsoleConfig:
    """Validate `[roles.console]`; raises ConfigError naming the file, the key and the reason."""
    prefix = "roles.console"
    known = {f for f in ConsoleSection.__dataclass_fields__} | {"seats", "card_reader"}
    for key in table:
        if key not in known:
            raise ConfigError(path, f"{prefix}.{key}", f"unknown key; known keys: {', '.join(sorted(known))}")
    settings = build_section(ConsoleSection, {k: v for k, v in table.items() if k not in ("seats", "card_reader")},
                             path, prefix)
    raw_seats = table.get("seats")
    if not isinstance(raw_seats, list) or not raw_seats:
        raise ConfigError(path, f"{prefix}.seats", "name at least one seat: [[roles.console.seats]]")
    seats: list[SeatSection] = []
    readers: list[tuple[str, str, str]] = []  # seat, url, key
    used_pins: dict[int, str] = {}
    for i, raw in enumerate(raw_seats):
        key = f"{prefix}.seats[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(path, key, "must be a table")
        seat = build_section(SeatSection, {k: v for k, v in raw.items() if k != "card_reader"}, path, key)
        if any(s.seat == seat.seat for s in seats):
            raise ConfigError(path, f"{key}.seat", f"seat {seat.seat!r} is listed twice")
        if seat.presence == -1 and settings.presence_required:
            raise ConfigError(path, f"{key}.presence", "is required while presence_required = true")
        for name in ("za", "proty", "utrymavsia", "presence", "led_za", "led_proty", "led_utrymavsia", "led_status"):
            pin = getattr(seat, name)
            if pin != -1 and pin in used_pins:
                raise ConfigError(path, f"{key}.{name}", f"pin {pin} is already used by {used_pins[pin]}")
            used_pins[pin] = f"{key}.{name}"
        if "card_reader" in raw:
            reader = build_section(CardReaderSection, raw["card_reader"], path, f"{key}.card_reader")
            if reader.seat not in ("", seat.seat):
                raise ConfigError(path, f"{key}.card_reader.seat", f"must be left out or be {seat.seat!r}")
            readers.append((seat.seat, reader.url, f"{key}.card_reader"))
        seats.append(seat)
    if "card_reader" in table:
        key = f"{prefix}.card_reader"
        reader = build_section(CardReaderSection, table["card_reader"], path, key)
        seat_id = reader.seat or (seats[0].seat if len(seats) == 1 else "")
        if not seat_id:
            raise ConfigError(path, f"{key}.seat", "name the seat the reader serves (this console has several)")
        if all(s.seat != seat_id for s in seats):
            raise ConfigError(path, f"{key}.seat", f"seat {seat_id!r} is not one of this console's seats")
        readers.append((seat_id, reader.url, key))
    for i, (seat_id, url, key) in enumerate(readers):
        if any(other == seat_id for other, _, _ in readers[:i]):
            raise ConfigError(path, key, f"seat {seat_id!r} already has a card reader")
        if url == SIM_READER and pin_factory_name != "mock":
            raise ConfigError(path, f"{key}.url", "a simulated reader needs gpio.pin_factory = \"mock\"")
    if settings.scenario and pin_factory_name != "mock":
        raise ConfigError(path, f"{prefix}.scenario", "the demo scenario needs gpio.pin_factory = \"mock\"")
    if not settings.hall_url and not discovery_enabled:
        raise ConfigError(path, f"{prefix}.hall_url", "is required while [discovery] enabled = false")
    return ConsoleConfig(settings, tuple(seats), tuple((s, u) for s, u, _ in readers))


# -- what the console knows of each seat -------------------------------------------------------

@dataclass
class SeatView:
    """One seat as the hall last described it, plus the console's own counters."""

    known: bool = False        # listed in the hall's last state
    deputy: str = ""
    registered: bool = False
    choice: str | None = None
    presses: int = 0
    refusals: int = 0
    card_reads: int = 0


def status_pattern(connected: bool, view: SeatView, vote_open: bool, registration_open: bool) -> LightPattern:
    """The status LED of a seat: lost link, the hall waiting for this seat, registered, or dark."""
    if not connected:
        return HALL_LOST
    if vote_open and view.registered and view.choice is None:
        return ATTENTION
    if registration_open and not vote_open and view.known and not view.registered:
        return ATTENTION
    return REGISTERED if view.registered else DARK


class ConsoleRole:
    """The deputies' consoles of one node: seat devices, card readers, the link to the hall."""

    name = "console"

    def __init__(self, ctx: RoleContext, config: ConsoleConfig) -> None:
        self.ctx = ctx
        self.config = config
        self.settings = config.settings
        self.connected = False
        self.vote: dict[str, Any] | None = None
        self.registration_open = False
        self.views = {s.seat: SeatView() for s in config.seats}
        self.seats: dict[str, SeatDevices] = {}
        self.readers: dict[str, CardReader] = {}
        self.sim_readers: dict[str, Any] = {}  # seat -> voting.console.sim.SimulatedCardReader
        self.faults: dict[tuple[str, str], str] = {}  # (seat, input) -> since (UTC ISO 8601)
        self.listeners: list[Callable[[], None]] = []  # called after every change the hall made known
        self.scenario: Any = None
        self._fault_news: dict[tuple[str, str], str] = {}  # not yet told to the hall: "flapping" / "ok"
        self._pending: dict[str, str] = {}  # message id -> seat, sent and not yet answered
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hall_key = roster_lookup(lambda: ctx.hub.roster, {"hall"})
        self.client = PeerClient(ctx.identity, CONSOLE_PATH, self._hall_url, self._hall_key, self._on_message,
                                 self._on_link)
        ctx.metrics.collector(self._metrics)

    # -- lifecycle ------------------------------------------------------------------------

    def open_devices(self) -> None:
        """Claim the pins and serial ports (at creation, so a wrong pin stops the node at start)."""
        try:
            factory = pin_factory(self.ctx.config.gpio.pin_factory)
        except Exception as exc:  # lgpio missing, not a Raspberry Pi, no /dev/gpiochip*
            raise ConfigError(self.ctx.config.path, "gpio.pin_factory", f"cannot use it here: {exc}") from None
        s = self.settings
        for i, seat in enumerate(self.config.seats):
            try:
                self.seats[seat.seat] = SeatDevices(seat.pins(), factory, self._on_press, self._on_fault,
                                                    bounce_s=s.bounce_s, flap_edges=s.flap_edges,
                                                    flap_window_s=s.flap_window_s)
            except Exception as exc:  # gpiozero: pin in use, fixed pull, no such pin
                self.close_devices()
                raise ConfigError(self.ctx.config.path, f"roles.console.seats[{i}]",
                                  f"{type(exc).__name__}: {exc}") from None
        for seat_id, url in self.config.readers:
            if url == SIM_READER:
                from voting.console.sim import SimulatedCardReader
                self.sim_readers[seat_id] = SimulatedCardReader()
                url = self.sim_readers[seat_id].path
            self.readers[seat_id] = CardReader(url, lambda card, seat_id=seat_id: self._on_card(seat_id, card))

    async def start(self) -> None:
        self._refresh()
        for reader in self.readers.values():
            reader.start()
        self._spawn(self.client.run())
        if self.settings.scenario == "demo":
            from voting.console.sim import Scenario
            self.scenario = Scenario(self)
            self.scenario.start()

    async def stop(self) -> None:
        if self.scenario is not None:
            self.scenario.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for reader in self.readers.values():
            await reader.stop()
        self.close_devices()

    def close_devices(self) -> None:
        for devices in self.seats.values():
            devices.close()
        for sim in self.sim_readers.values():
            sim.close()

    def health(self) -> dict[str, Any]:
        return {
            "hall_connected": self.connected,
            "hall": self.client.peer_id,
            "vote": (self.vote or {}).get("uid"),
            "registration_open": self.registration_open,
            "awaiting_answer": len(self._pending),
            "seats": {seat: {"deputy": v.deputy, "known_to_hall": v.known, "registered": v.registered,
                             "choice": v.choice, "status": self.seats[seat].status.pattern, "presses": v.presses,
                             "refusals": v.refusals, "card_reads": v.card_reads, "faults": self.seats[seat].faults}
                      for seat, v in self.views.items()},
            "faults": [{"seat": s, "input": i, "since": t} for (s, i), t in self.faults.items()],
            "card_readers": {seat: r.health() for seat, r in self.readers.items()},
        }

    def _metrics(self) -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        def per_seat(field: str) -> list[tuple[dict[str, str], float]]:
            return [({"seat": seat}, float(getattr(v, field))) for seat, v in self.views.items()]
        return [
            ("hromada_console_hall_connected", "gauge", "1 while the link to the hall is up.",
             [({}, 1.0 if self.connected else 0.0)]),
            ("hromada_console_presses_total", "counter", "Debounced vote-button presses.", per_seat("presses")),
            ("hromada_console_refusals_total", "counter", "Refusals shown (by the console or the hall).",
             per_seat("refusals")),
            ("hromada_console_card_reads_total", "counter", "Card presentations read.", per_seat("card_reads")),
            ("hromada_console_input_faults", "gauge", "Inputs currently ignored as flapping.",
             [({}, float(len(self.faults)))]),
            ("hromada_console_card_bad_frames_total", "counter", "RDM6300 frames refused (length, checksum).",
             [({"seat": seat}, float(r.stats.bad_frames + r.stats.bad_checksum)) for seat, r in self.readers.items()]),
        ]

    # -- the hall link ------------------------------------------------------------------------

    async def _hall_url(self) -> str:
        if self.settings.hall_url:
            return self.settings.hall_url.rstrip("/")
        discovery = self.ctx.discovery
        assert discovery is not None  # the configuration requires hall_url without discovery
        if NODE_SERVICE not in discovery.peers:
            await discovery.browse(NODE_SERVICE)

        def is_hall(peer: Peer) -> bool:  # mDNS says where; the roster says who may be the hall
            return "hall" in peer.roles and self._hall_key(peer.id) is not None
        peer = await discovery.wait_for(NODE_SERVICE, is_hall, HALL_SEARCH_S)
        if peer is None:
            raise ConnectionError("no hall of the roster found by mDNS yet")
        return peer.url

    def _on_link(self, up: bool) -> None:
        self.connected = up
        log.info("hall link %s", "up" if up else "lost")
        if up:
            self._spawn(self._say_hello())
        else:
            self._pending.clear()  # their answers will never come; the next state tells the truth
        self._refresh()

    async def _say_hello(self) -> None:
        await self._send({"type": "hello", "seats": list(self.views)})
        for (seat, name), what in list(self._fault_news.items()):
            if await self._send({"type": "fault", "seat": seat, "input": name, "what": what}):
                self._fault_news.pop((seat, name), None)

    async def _send(self, message: dict[str, Any]) -> bool:
        try:
            await self.client.send(message)
            return True
        except (ConnectionError, RuntimeError) as exc:
            log.info("not sent to the hall (%s): %s", exc, message.get("type"))
            return False

    async def _on_message(self, msg: dict[str, Any]) -> None:
        # A malformed message from the hall is logged and changes nothing; it must not drop the link.
        try:
            kind = msg.get("type")
            if kind == "state":
                self._apply_state(msg)
            elif kind == "ack":
                self._apply_ack(msg)
            elif kind == "refused":
                self._apply_refused(msg)
            elif kind == "error":
                log.warning("hall reports an error: %s %s", msg.get("code"), msg.get("message"))
            else:
                log.info("ignoring a hall message of type %r", kind)
                return
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            log.warning("ignoring a malformed %s from the hall: %s", msg.get("type"), exc)
            return
        self._refresh()
        for listener in list(self.listeners):
            listener()

    def _apply_state(self, msg: dict[str, Any]) -> None:
        vote, seats = msg.get("vote"), msg.get("seats")
        if vote is not None and not (isinstance(vote, dict) and isinstance(vote.get("uid"), str)):
            raise ValueError("vote must be null or an object with a uid")
        if not isinstance(seats, dict):
            raise ValueError("seats must be an object")
        self.vote, self.registration_open = vote, msg.get("registration_open") is True
        for seat, view in self.views.items():
            entry = seats.get(seat)
            view.known = isinstance(entry, dict)
            entry = entry if isinstance(entry, dict) else {}
            view.deputy = str(entry.get("deputy") or "")
            view.registered = entry.get("registered") is True
            view.choice = entry.get("choice") if entry.get("choice") in CHOICES else None

    def _apply_ack(self, msg: dict[str, Any]) -> None:
        self._pending.pop(str(msg.get("id")), None)
        view = self.views.get(str(msg.get("seat")))
        if view is None:
            raise ValueError(f"ack for a seat this console does not drive: {msg.get('seat')!r}")
        view.registered = True  # a ballot is accepted only from a registered deputy
        if msg.get("kind") == "ballot":
            if msg.get("choice") not in CHOICES:
                raise ValueError(f"unknown choice {msg.get('choice')!r}")
            view.choice = msg["choice"]

    def _apply_refused(self, msg: dict[str, Any]) -> None:
        self._pending.pop(str(msg.get("id")), None)
        seat = str(msg.get("seat"))
        log.info("hall refused seat %s: %s (%s)", seat, msg.get("code"), msg.get("message_en"))
        if seat in self.seats:
            self._refuse(seat)

    # -- what the devices report --------------------------------------------------------------

    def _on_press(self, press: Press) -> None:
        view = self.views[press.seat]
        view.presses += 1
        if self.settings.presence_required and not press.presence:
            log.info("seat %s: %s pressed without presence: refused on the console", press.seat, press.choice)
            self._refuse(press.seat)
            return
        self._send_or_refuse(press.seat, {"type": "press", "seat": press.seat, "choice": press.choice,
                                          "presence": press.presence, "vote": (self.vote or {}).get("uid")})

    def _on_card(self, seat: str, card: str) -> None:
        self.views[seat].card_reads += 1
        log.info("seat %s: card %s…", seat, card[:4])  # the whole id identifies a person: keep it out of logs
        self._send_or_refuse(seat, {"type": "card", "seat": seat, "card": card})

    def _send_or_refuse(self, seat: str, message: dict[str, Any]) -> None:
        if not self.connected:
            self._refuse(seat)  # never queued: a press must not arrive late
            return
        msg_id = uuid7()  # made here, unique: the hall refuses a duplicate
        self._pending[msg_id] = seat

        async def send() -> None:
            if not await self._send({**message, "id": msg_id}):
                self._pending.pop(msg_id, None)
                self._refuse(seat)
        self._spawn(send())

    def _on_fault(self, seat: str, name: str, faulted: bool) -> None:
        if faulted:
            self.faults[(seat, name)] = iso_utc()
        else:
            self.faults.pop((seat, name), None)
        what = "flapping" if faulted else "ok"
        self._fault_news[(seat, name)] = what

        async def tell() -> None:
            if self.connected and await self._send({"type": "fault", "seat": seat, "input": name, "what": what}):
                if self._fault_news.get((seat, name)) == what:
                    del self._fault_news[(seat, name)]
        self._spawn(tell())

    # -- lights --------------------------------------------------------------------------------

    def _refuse(self, seat: str) -> None:
        self.views[seat].refusals += 1
        self.seats[seat].status.flash(REFUSED)

    def _refresh(self) -> None:
        vote_open = self.vote is not None
        for seat, devices in self.seats.items():
            view = self.views[seat]
            devices.show_choice(view.choice)
            devices.status.show(status_pattern(self.connected, view, vote_open, self.registration_open))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def create(ctx: RoleContext) -> ConsoleRole:
    """The role factory (``edge.roles.ROLE_FACTORIES["console"] = "voting.console.service:create"``)."""
    config = parse_console_config(ctx.role_config, ctx.config.path, ctx.config.gpio.pin_factory,
                                  ctx.config.discovery.enabled)
    role = ConsoleRole(ctx, config)
    role.open_devices()
    if ctx.config.gpio.pin_factory == "mock":
        from voting.console.sim import add_sim_routes
        add_sim_routes(ctx.app, role)
    return role
