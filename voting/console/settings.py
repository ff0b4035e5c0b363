"""The console's configuration: the ``[roles.console]`` table, its seats and card readers.

:func:`parse_console_config` validates the whole table into a
:class:`ConsoleConfig` — :class:`ConsoleSettings` (the table's own keys), a
:class:`SeatSection` per ``[[roles.console.seats]]`` and the card readers
(``card_reader = {…}``, :class:`CardReaderSection`) by seat — and refuses a
wrong one with the file, the key and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.config import ConfigError, build_section, http_url, label, one_of, option, positive, required

SIM_READER = "sim"  # card_reader url of a simulated reader on a pty (mock pins only)


def bcm_pin(value: int) -> str | None:
    return None if 0 <= value <= 27 else "must be a BCM GPIO number from 0 to 27"


def optional_pin(value: int) -> str | None:
    return None if value == -1 else bcm_pin(value)


def card_id(value: str) -> str | None:
    if value and (len(value) != 10 or any(c not in "0123456789ABCDEFabcdef" for c in value)):
        return "must be 10 hex characters (the RDM6300 card id), or empty"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleSettings:
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
                         one_of("", "demo"))


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


@dataclass(frozen=True, slots=True, kw_only=True)
class CardReaderSection:
    """`card_reader`: an RDM6300 reader, in a seat's table or the console's."""

    url: str = required("pyserial URL of the reader: `/dev/ttyUSB0`, `/dev/serial0`, or `sim` (a simulated reader "
                    "on a pty; mock pins only).", lambda v: None if v else "must not be empty")
    seat: str = option("", "Seat the reader serves; in a seat's table it is that seat, in the console's table it "
                         "may be left out when the console has one seat.")


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """The validated `[roles.console]` table: its own keys, its seats, and which seat has which card reader."""

    settings: ConsoleSettings
    seats: tuple[SeatSection, ...]
    readers: tuple[tuple[str, str], ...]  # (seat, url)


def parse_console_config(table: dict[str, Any], path: str, pin_factory_name: str = "mock",
                         discovery_enabled: bool = True) -> ConsoleConfig:
    """Validate `[roles.console]`; raises ConfigError naming the file, the key and the reason."""
    prefix = "roles.console"
    known = {f for f in ConsoleSettings.__dataclass_fields__} | {"seats", "card_reader"}
    for key in table:
        if key not in known:
            raise ConfigError(path, f"{prefix}.{key}", f"unknown key; known keys: {', '.join(sorted(known))}")
    settings = build_section(ConsoleSettings, {k: v for k, v in table.items() if k not in ("seats", "card_reader")},
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
