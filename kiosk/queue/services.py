"""What a ЦНАП offers: service groups with letter prefixes, services, windows, hours.

The catalogue is configuration: it is validated once, when the queue starts,
and a wrong value is refused with a :class:`~kiosk.errors.QueueError` that
names the item and the reason. Nothing here changes during the day.

Prefix rule. A prefix is one capital letter of the Ukrainian alphabet. We
refuse the letters a resident can mistake for a digit on a printed ticket or
on a calling screen seen from 5 m, and every Latin letter (a Latin «A» looks
exactly like the Cyrillic «А» on screen but breaks the printer's code page,
the spoken call and any search). The refused Cyrillic letters and why:

====  ==========================================================
О     reads as the digit 0
З     reads as 3
Б     reads as 6
Ч     reads as 4
В     same shape as Latin B, which reads as 8
І     reads as 1 (and is Latin I / l in most fonts)
Ї     reads as 1 with a smudge
Ь     reads as 6 or b; it also has no short spoken name for a call
====  ==========================================================

Allowed: А Г Ґ Д Е Є Ж И Й К Л М Н П Р С Т У Ф Х Ц Ш Щ Ю Я.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.errors import ErrorCode, QueueError

UKRAINIAN_CAPITALS = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯ"

#: Cyrillic letters refused as prefixes, with the digit or shape they are taken for.
CONFUSABLE_PREFIXES: Mapping[str, str] = {
    "О": "0",
    "З": "3",
    "Б": "6",
    "Ч": "4",
    "В": "8",
    "І": "1",
    "Ї": "1",
    "Ь": "6",
}

#: Latin capitals that look like a Cyrillic letter: named in the error so the
#: person fixing the configuration sees what happened.
LATIN_TWINS: Mapping[str, str] = {
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "I": "І", "K": "К",
    "M": "М", "O": "О", "P": "Р", "T": "Т", "X": "Х", "Y": "У",
}  # fmt: skip

ALLOWED_PREFIXES = "".join(c for c in UKRAINIAN_CAPITALS if c not in CONFUSABLE_PREFIXES)

DEFAULT_TIMEZONE = ZoneInfo("Europe/Kyiv")


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it may label a ticket series; otherwise raise QueueError."""
    if len(prefix) != 1:
        raise QueueError(
            ErrorCode.PREFIX_INVALID,
            f"Префікс «{prefix}» має бути однією великою українською літерою.",
            prefix=prefix,
        )
    if prefix.upper() in LATIN_TWINS or prefix.isascii():
        twin = LATIN_TWINS.get(prefix.upper())
        hint = f" (схожа на кириличну «{twin}»)" if twin else ""
        raise QueueError(
            ErrorCode.PREFIX_LATIN,
            f"Префікс «{prefix}» — латинський символ{hint}; потрібна українська літера.",
            prefix=prefix,
        )
    if prefix not in UKRAINIAN_CAPITALS:
        raise QueueError(
            ErrorCode.PREFIX_INVALID,
            f"Префікс «{prefix}» має бути однією великою українською літерою.",
            prefix=prefix,
        )
    if prefix in CONFUSABLE_PREFIXES:
        raise QueueError(
            ErrorCode.PREFIX_CONFUSABLE,
            f"Префікс «{prefix}» легко сплутати з цифрою {CONFUSABLE_PREFIXES[prefix]}; "
            f"оберіть одну з літер: {' '.join(ALLOWED_PREFIXES)}.",
            prefix=prefix,
        )
    return prefix


@dataclass(frozen=True, slots=True)
class Hours:
    """One opening interval of a day, local time, ``start`` inclusive, ``end`` exclusive."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise QueueError(
                ErrorCode.SCHEDULE_INVALID,
                f"Час роботи {self.start:%H:%M}–{self.end:%H:%M}: початок має бути раніше за кінець.",
            )

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Schedule:
    """Working hours per weekday (Monday = 0) and the calendar of closed days."""

    week: tuple[tuple[Hours, ...], ...]
    closed_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise QueueError(
                ErrorCode.SCHEDULE_INVALID, "Розклад має містити сім днів тижня (понеділок — неділя)."
            )
        for day in self.week:
            ordered = sorted(day, key=lambda h: h.start)
            for a, b in zip(ordered, ordered[1:]):
                if b.start < a.end:
                    raise QueueError(
                        ErrorCode.SCHEDULE_INVALID, f"Інтервали роботи {a} і {b} перекриваються."
                    )

    @classmethod
    def weekly(
        cls,
        hours: Mapping[int, Iterable[tuple[str, str]]],
        closed_days: Iterable[date] = (),
    ) -> Schedule:
        """Build from ``{weekday: [("08:00", "13:00"), ("14:00", "17:00")]}``; missing days are closed."""
        week = tuple(
            tuple(Hours(time.fromisoformat(a), time.fromisoformat(b)) for a, b in hours.get(d, ()))
            for d in range(7)
        )
        return cls(week, frozenset(closed_days))

    def is_open(self, local: datetime) -> bool:
        """Whether the schedule is open at ``local`` (a datetime already in local time)."""
        if local.date() in self.closed_days:
            return False
        moment = local.time().replace(tzinfo=None)
        return any(h.start <= moment < h.end for h in self.week[local.weekday()])

    def describe(self, weekday: int) -> str:
        """Hours of one weekday as people read them: «08:00–13:00, 14:00–17:00» or «вихідний»."""
        return ", ".join(str(h) for h in self.week[weekday]) or "вихідний"


#: Monday–Friday 08:00–17:00, the common ЦНАП schedule; a default, not a rule.
WORKDAYS_8_TO_17 = Schedule.weekly({d: [("08:00", "17:00")] for d in range(5)})


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    """A kiosk button that leads to services; its letter prefixes their tickets.

    ``area`` is the kiosk's top level (area of life: «Паспорти», «Земля»);
    the group is the purpose inside it (consultation, submit, collect).
    """

    id: str
    title: str
    prefix: str
    area: str = ""


@dataclass(frozen=True, slots=True)
class Service:
    """One kind of administrative service and the windows that provide it.

    ``typical_minutes`` seeds the wait estimate until real service times
    have been measured. ``schedule`` overrides the centre's schedule.
    """

    id: str
    title: str
    group: str
    windows: frozenset[int]
    schedule: Schedule | None = None
    typical_minutes: float = 10.0


class CarryOver(StrEnum):
    """What day rollover does with tickets nobody served."""

    #: Unserved tickets expire; the next day starts empty.
    EXPIRE = "expire"
    #: Unserved tickets wait again the next day, ahead of new walk-ins, with their number.
    CARRY = "carry"


@dataclass(frozen=True, slots=True)
class NumberRange:
    """Inclusive range of ticket numbers of one series, within 1–999."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last <= 999:
            raise QueueError(
                ErrorCode.RANGE_INVALID,
                f"Діапазон номерів {self.first}–{self.last} має лежати в межах 1–999.",
            )

    def overlaps(self, other: NumberRange) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """The validated configuration of one ЦНАП queue.

    Walk-in and booked tickets carry their group's prefix, in two separate
    number ranges (``А001…А699`` walk-ins, ``А700…А999`` bookings by default);
    the priority lane has its own prefix and sequence (``П001…``).
    """

    groups: tuple[ServiceGroup, ...]
    services: tuple[Service, ...]
    windows: tuple[int, ...]
    schedule: Schedule = WORKDAYS_8_TO_17
    timezone: tzinfo = DEFAULT_TIMEZONE
    priority_prefix: str = "П"
    walk_in_numbers: NumberRange = NumberRange(1, 699)
    booked_numbers: NumberRange = NumberRange(700, 999)
    priority_numbers: NumberRange = NumberRange(1, 999)
    booking_grace: timedelta = timedelta(minutes=2)
    recalls_before_no_show: int = 2
    carry_over: CarryOver = CarryOver.EXPIRE
    rolling_window: int = 20
    estimate_spread: float = 0.25
    _services: Mapping[str, Service] = field(init=False, repr=False, compare=False)
    _groups: Mapping[str, ServiceGroup] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        groups = _unique({g.id: g for g in self.groups}, self.groups, "групи")
        services = _unique({s.id: s for s in self.services}, self.services, "послуги")
        if len(set(self.windows)) != len(self.windows):
            raise QueueError(ErrorCode.DUPLICATE_ID, "Номери вікон повторюються.")
        for number in self.windows:
            if not 1 <= number <= 999:
                raise QueueError(
                    ErrorCode.CONFIG_INVALID, f"Номер вікна {number} має бути від 1 до 999."
                )
        prefixes = {check_prefix(self.priority_prefix): "пільгова черга"}
        for g in self.groups:
            check_prefix(g.prefix)
            if g.prefix in prefixes:
                raise QueueError(
                    ErrorCode.PREFIX_DUPLICATE,
                    f"Префікс «{g.prefix}» групи «{g.title}» уже має {prefixes[g.prefix]}.",
                    prefix=g.prefix,
                )
            prefixes[g.prefix] = f"група «{g.title}»"
        for s in self.services:
            if s.group not in groups:
                raise QueueError(
                    ErrorCode.UNKNOWN_GROUP,
                    f"Послуга «{s.title}» посилається на невідому групу «{s.group}».",
                )
            if not s.windows:
                raise QueueError(
                    ErrorCode.CONFIG_INVALID, f"Послугу «{s.title}» не надає жодне вікно."
                )
            missing = sorted(set(s.windows) - set(self.windows))
            if missing:
                raise QueueError(
                    ErrorCode.UNKNOWN_WINDOW,
                    f"Послуга «{s.title}» посилається на невідомі вікна: {missing}.",
                )
            if s.typical_minutes <= 0:
                raise QueueError(
                    ErrorCode.CONFIG_INVALID, f"Типова тривалість послуги «{s.title}» має бути додатною."
                )
        if self.walk_in_numbers.overlaps(self.booked_numbers):
            raise QueueError(
                ErrorCode.RANGE_INVALID,
                "Номери живої черги й номери за записом не можуть перекриватися.",
            )
        if self.booking_grace < timedelta(0) or self.recalls_before_no_show < 0:
            raise QueueError(
                ErrorCode.CONFIG_INVALID,
                "Час очікування запізнілих і кількість повторних викликів не можуть бути від'ємними.",
            )
        if self.rolling_window < 1 or not 0 <= self.estimate_spread < 1:
            raise QueueError(ErrorCode.CONFIG_INVALID, "Параметри оцінки очікування хибні.")
        object.__setattr__(self, "_services", services)
        object.__setattr__(self, "_groups", groups)

    def service(self, service_id: str) -> Service:
        """The service with this id, or QueueError UNKNOWN_SERVICE."""
        try:
            return self._services[service_id]
        except KeyError:
            raise QueueError(
                ErrorCode.UNKNOWN_SERVICE,
                f"Послуги «{service_id}» не існує.",
                service_id=service_id,
            ) from None

    def group(self, group_id: str) -> ServiceGroup:
        return self._groups[group_id]

    def prefix_of(self, service_id: str) -> str:
        return self._groups[self.service(service_id).group].prefix

    def check_window(self, number: int) -> int:
        """``number`` if such a window exists, or QueueError UNKNOWN_WINDOW."""
        if number not in self.windows:
            raise QueueError(
                ErrorCode.UNKNOWN_WINDOW, f"Вікна № {number} не існує.", window=number
            )
        return number

    def serves(self, window: int, service_id: str) -> bool:
        """Whether ``window`` provides the service (False for a service no longer configured)."""
        service = self._services.get(service_id)
        return service is not None and window in service.windows

    def schedule_of(self, service_id: str) -> Schedule:
        return self.service(service_id).schedule or self.schedule

    def is_open(self, service_id: str, at: datetime) -> bool:
        """Whether the service takes visitors at ``at`` (any aware datetime)."""
        return self.schedule_of(service_id).is_open(at.astimezone(self.timezone))

    def menu(self) -> tuple[tuple[str, tuple[tuple[ServiceGroup, tuple[Service, ...]], ...]], ...]:
        """The kiosk's tree, in configuration order: area → groups → services."""
        areas: dict[str, list[tuple[ServiceGroup, tuple[Service, ...]]]] = {}
        for g in self.groups:
            members = tuple(s for s in self.services if s.group == g.id)
            areas.setdefault(g.area, []).append((g, members))
        return tuple((area, tuple(items)) for area, items in areas.items())


def _unique(index: dict[str, Any], items: tuple[Any, ...], what: str) -> dict[str, Any]:
    if len(index) != len(items):
        raise QueueError(ErrorCode.DUPLICATE_ID, f"Ідентифікатори {what} повторюються.")
    return index
