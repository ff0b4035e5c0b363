"""The queue role's configuration: the ``[roles.queue]`` table and the catalogue file it names.

The catalogue (services, groups, windows, working hours) is a TOML file of
its own, like the council file of the hall, because the ЦНАП's
administrator edits it and it is long::

    windows = [1, 2, 3]
    closed_days = ["2026-08-24"]          # the centre is closed (holidays)
    priority_prefix = "П"                  # optional; walk_in_numbers = [1, 699],
                                           # booked_numbers = [700, 999], priority_numbers = [1, 999]
    [hours]                                # the centre's week; a day not named is closed
    weekdays = ["08:00-13:00", "14:00-17:00"]   # Monday–Friday (also: every_day, mon … sun)
    sat = ["09:00-14:00"]

    [[groups]]
    id = "passport"
    title = "Паспорт громадянина України"
    prefix = "А"
    area = "Документи"                     # the kiosk's top level

    [[services]]
    id = "id-card"
    title = "Оформлення ID-картки"
    group = "passport"
    windows = [1, 2]
    typical_minutes = 15                   # seeds the wait estimate
    hours = { weekdays = ["09:00-12:00"] } # optional, overrides the centre's hours

A wrong file is refused at start with the file, the key and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.config import (ConfigError, http_url, not_negative, one_of, option, positive, read_toml, required,
                         time_of_day, time_zone)
from kiosk.errors import QueueError
from kiosk.queue.services import CarryOver, Hours, NumberRange, QueueConfig, Schedule, Service, ServiceGroup

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSettings:
    """`[roles.queue]`: the ЦНАП electronic queue (tickets, bookings, windows, statistics)."""

    catalogue_file: str = required("TOML file with the windows, service groups (letter prefixes), services and "
                                   "working hours (see docs/queue.md).")
    cnap_name: str = option("ЦНАП", "Name of the centre as screens, tickets and pages show it.")
    community_name: str = option("", "Name of the territorial community, shown under the centre's name.")
    timezone: str = option("Europe/Kyiv", "Time zone of the working hours, the day and hourly statistics.", time_zone)
    rollover_at: str = option("03:00", "Local time after which the queue starts a new day (numbers restart, "
                              "windows close, unserved tickets follow `carry_over`).", time_of_day)
    carry_over: str = option("expire", "Unserved tickets at day rollover: `expire`, or `carry` (they wait again "
                             "the next day, ahead of new walk-ins).", one_of("expire", "carry"))
    booking_grace_s: float = option(120.0, "A booked visitor checking in later than this after the slot start "
                                    "joins the walk-in line, seconds.", not_negative)
    recalls_before_no_show: int = option(2, "Recalls an operator must make before marking a no-show.",
                                         not_negative)
    rolling_window: int = option(20, "Recent service times per service the wait estimate averages.", positive)
    public_url: str = option("", "Base URL residents' phones reach the queue at, for the ticket status page "
                             "(the kiosk prints it as a QR code). Empty: this node's own address.", http_url)
    scenario: str = option("", "`demo`: simulated visitors and operators run the day (for `hromada demo`).",
                           one_of("", "demo"))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def rollover_time(self) -> time:
        return time.fromisoformat(self.rollover_at)


def _hours(path: Path, key: str, table: Any) -> Schedule:
    """A week of working hours from ``{weekdays|every_day|mon…sun: ["08:00-17:00", …]}``."""
    if not isinstance(table, dict):
        raise ConfigError(path, key, "must be a table of days, e.g. { weekdays = [\"08:00-17:00\"] }")
    week: dict[int, tuple[Hours, ...]] = {}
    for name, intervals in table.items():
        if name == "every_day":
            days = range(7)
        elif name == "weekdays":
            days = range(5)
        elif name in DAYS:
            days = (DAYS.index(name),)
        else:
            raise ConfigError(path, f"{key}.{name}", f"unknown day; use every_day, weekdays or {', '.join(DAYS)}")
        if not isinstance(intervals, list):
            raise ConfigError(path, f"{key}.{name}", "must be a list like [\"08:00-13:00\", \"14:00-17:00\"]")
        parsed = tuple(_interval(path, f"{key}.{name}", item) for item in intervals)
        for d in days:  # a named day overrides a shortcut whatever the order in the file
            if name in DAYS or d not in week:
                week[d] = parsed
    try:
        return Schedule(tuple(week.get(d, ()) for d in range(7)))
    except QueueError as exc:
        raise ConfigError(path, key, exc.message) from None


def _interval(path: Path, key: str, text: Any) -> Hours:
    match = _INTERVAL.match(str(text))
    if not match:
        raise ConfigError(path, key, f"{text!r} is not an interval like \"08:00-17:00\"")
    try:
        start = time.fromisoformat(f"{int(match[1][:-3]):02d}{match[1][-3:]}")
        end_text = f"{int(match[2][:-3]):02d}{match[2][-3:]}"
        end = time.max if end_text == "24:00" else time.fromisoformat(end_text)
        return Hours(start, end)
    except ValueError:
        raise ConfigError(path, key, f"{text!r}: hours are 00:00–24:00") from None
    except QueueError as exc:
        raise ConfigError(path, key, exc.message) from None


def _range(path: Path, data: dict[str, Any], key: str, default: NumberRange) -> NumberRange:
    value = data.get(key)
    if value is None:
        return default
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise ConfigError(path, key, "must be [first, last], e.g. [1, 699]")
    try:
        return NumberRange(value[0], value[1])
    except QueueError as exc:
        raise ConfigError(path, key, exc.message) from None


def _text(path: Path, key: str, table: dict[str, Any], name: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, f"{key}.{name}", "is required (a non-empty string)")
    return value.strip()


def _known(path: Path, key: str, table: Any, keys: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(path, key, "must be a table")
    unknown = sorted(set(table) - keys)
    if unknown:
        raise ConfigError(path, f"{key}.{unknown[0]}", f"unknown key; known: {', '.join(sorted(keys))}")
    return table


def load_catalogue(path: str | Path, settings: QueueSettings) -> QueueConfig:
    """The validated :class:`QueueConfig` from the catalogue file and the role's rules."""
    p = Path(path)
    data = _known(p, "", read_toml(p), {"windows", "closed_days", "priority_prefix", "walk_in_numbers",
                                        "booked_numbers", "priority_numbers", "hours", "groups", "services"})
    windows = data.get("windows")
    if not isinstance(windows, list) or not windows or not all(isinstance(w, int) for w in windows):
        raise ConfigError(p, "windows", "is required: a list of window numbers, e.g. [1, 2, 3]")
    try:
        closed = frozenset(date.fromisoformat(str(d)) for d in data.get("closed_days", []))
    except ValueError:
        raise ConfigError(p, "closed_days", "must be a list of dates \"YYYY-MM-DD\"") from None
    centre = _hours(p, "hours", data.get("hours", {"weekdays": ["08:00-17:00"]}))
    centre = Schedule(centre.week, closed)
    groups = []
    for i, g in enumerate(data.get("groups", [])):
        key = f"groups[{i}]"
        g = _known(p, key, g, {"id", "title", "prefix", "area"})
        groups.append(ServiceGroup(_text(p, key, g, "id"), _text(p, key, g, "title"), _text(p, key, g, "prefix"),
                                   str(g.get("area", ""))))
    services = []
    for i, s in enumerate(data.get("services", [])):
        key = f"services[{i}]"
        s = _known(p, key, s, {"id", "title", "group", "windows", "typical_minutes", "hours"})
        served_by = s.get("windows")
        if not isinstance(served_by, list) or not all(isinstance(w, int) for w in served_by):
            raise ConfigError(p, f"{key}.windows", "is required: the windows that provide the service, e.g. [1, 2]")
        minutes = s.get("typical_minutes", 10)
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
            raise ConfigError(p, f"{key}.typical_minutes", "must be a number of minutes")
        own = Schedule(_hours(p, f"{key}.hours", s["hours"]).week, closed) if "hours" in s else None
        services.append(Service(_text(p, key, s, "id"), _text(p, key, s, "title"), _text(p, key, s, "group"),
                                frozenset(served_by), own, float(minutes)))
    if not groups or not services:
        raise ConfigError(p, "services", "name at least one [[groups]] and one [[services]]")
    try:
        return QueueConfig(
            groups=tuple(groups), services=tuple(services), windows=tuple(windows), schedule=centre,
            timezone=settings.zone, priority_prefix=str(data.get("priority_prefix", "П")),
            walk_in_numbers=_range(p, data, "walk_in_numbers", NumberRange(1, 699)),
            booked_numbers=_range(p, data, "booked_numbers", NumberRange(700, 999)),
            priority_numbers=_range(p, data, "priority_numbers", NumberRange(1, 999)),
            booking_grace=timedelta(seconds=settings.booking_grace_s),
            recalls_before_no_show=settings.recalls_before_no_show, carry_over=CarryOver(settings.carry_over),
            rolling_window=settings.rolling_window,
        )
    except QueueError as exc:
        raise ConfigError(p, "", f"{exc.message} ({exc.code.value})") from None
