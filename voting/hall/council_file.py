"""The council file: who sits where, which card is whose, what the council is.

A TOML file named by ``[roles.hall] council_file``::

    name = "Тестівська сільська рада"
    edrpou = "04362345"
    katottg = "UA12345678901234567"
    seats = 26
    convocation = 8

    [head]
    id = "head"
    full_name = "Коваленко Петро Іванович"
    seat = "0"
    console = "consoles-a"
    card = "0A1B2C3D4E"          # optional

    [[deputies]]
    id = "d01"
    full_name = "Бондаренко Олена Миколаївна"
    seat = "1"
    console = "consoles-a"       # the console node's name at the hub, or its node id
    card = "0A1B2C3D01"          # optional, RDM6300 card id (10 hex)

A wrong file is refused with the file, the key and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.config import ConfigError, read_toml
from voting.hall.model import Council, Person

_CARD = re.compile(r"^[0-9A-F]{10}$")


@dataclass(frozen=True, slots=True)
class SeatAssignment:
    """A seat in the hall: its deputy, the console node that drives it, the card."""

    seat: str
    voter_id: str
    console: str
    card: str = ""


@dataclass(frozen=True, slots=True)
class CouncilFile:
    council: Council
    convocation: int
    seats: tuple[SeatAssignment, ...]

    def by_seat(self, seat: str) -> SeatAssignment | None:
        for s in self.seats:
            if s.seat == seat:
                return s
        return None

    def by_card(self, card: str) -> SeatAssignment | None:
        card = card.upper()
        for s in self.seats:
            if s.card and s.card == card:
                return s
        return None

    def seat_of(self, voter_id: str) -> SeatAssignment | None:
        for s in self.seats:
            if s.voter_id == voter_id:
                return s
        return None


def _person(path: Path, key: str, data: Any) -> tuple[Person, SeatAssignment | None]:
    if not isinstance(data, dict):
        raise ConfigError(path, key, "must be a table")
    for field in ("id", "full_name"):
        if not isinstance(data.get(field), str) or not data[field].strip():
            raise ConfigError(path, f"{key}.{field}", "is required (a non-empty string)")
    unknown = set(data) - {"id", "full_name", "seat", "console", "card"}
    if unknown:
        raise ConfigError(path, f"{key}.{sorted(unknown)[0]}", "unknown key; known: id, full_name, seat, console, card")
    person = Person(data["id"], data["full_name"])
    if "seat" not in data:
        return person, None
    seat, console, card = data.get("seat"), data.get("console"), str(data.get("card", "")).upper()
    if not isinstance(seat, str) or not seat:
        raise ConfigError(path, f"{key}.seat", "must be a non-empty string")
    if not isinstance(console, str) or not console:
        raise ConfigError(path, f"{key}.console", "name the console node that drives this seat")
    if card and not _CARD.match(card):
        raise ConfigError(path, f"{key}.card", "must be 10 hexadecimal digits (an RDM6300 card id)")
    return person, SeatAssignment(seat, person.id, console, card)


def load_council_file(path: str | Path) -> CouncilFile:
    p = Path(path)
    data = read_toml(p)
    for key in ("name", "edrpou", "katottg"):
        if not isinstance(data.get(key), str):
            raise ConfigError(p, key, "is required (a string)")
    for key in ("seats", "convocation"):
        if not isinstance(data.get(key), int) or isinstance(data.get(key), bool) or data[key] < 1:
            raise ConfigError(p, key, "is required (a whole number ≥ 1)")
    deputies_data = data.get("deputies", [])
    if not isinstance(deputies_data, list):
        raise ConfigError(p, "deputies", "must be an array of tables [[deputies]]")
    people: list[Person] = []
    seats: list[SeatAssignment] = []
    for i, entry in enumerate(deputies_data):
        person, seat = _person(p, f"deputies[{i}]", entry)
        people.append(person)
        if seat:
            seats.append(seat)
    head = None
    if "head" in data:
        head, seat = _person(p, "head", data["head"])
        if seat:
            seats.append(seat)
    for what, values in (("seat", [s.seat for s in seats]), ("card", [s.card for s in seats if s.card])):
        dup = {v for v in values if values.count(v) > 1}
        if dup:
            raise ConfigError(p, "deputies", f"{what} {sorted(dup)[0]!r} is given to two people")
    try:
        council = Council(name=data["name"], edrpou=data["edrpou"], katottg=data["katottg"], seats=data["seats"],
                          deputies=tuple(people), head=head)
    except ValueError as exc:
        raise ConfigError(p, "", str(exc)) from None
    return CouncilFile(council=council, convocation=data["convocation"], seats=tuple(seats))
