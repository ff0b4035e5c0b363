"""Events of the queue: the durable record from which its state is rebuilt.

Every accepted command produces exactly one event; the queue applies it and
hands it to the journal. Replaying the events in order
(:meth:`kiosk.queue.model.Queue.replay`) rebuilds the state after a crash or a
power cut, and the same events feed the statistics (:mod:`kiosk.queue.stats`) and
the hub. ``to_dict``/``from_dict`` give JSON-ready dictionaries with times as
UTC ISO 8601 with milliseconds, as the rest of the project stores them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import Enum, StrEnum
from typing import Any, ClassVar, TypeVar

from kiosk.queue.tickets import PauseReason, TicketKind


class EventKind(StrEnum):
    DAY_OPENED = "day_opened"
    DAY_ROLLED = "day_rolled"
    BOOKING_ADDED = "booking_added"
    TICKET_ISSUED = "ticket_issued"
    TICKET_CALLED = "ticket_called"
    TICKET_RECALLED = "ticket_recalled"
    TICKET_NO_SHOW = "ticket_no_show"
    SERVICE_STARTED = "service_started"
    SERVICE_FINISHED = "service_finished"
    TICKET_REDIRECTED = "ticket_redirected"
    WINDOW_OPENED = "window_opened"
    WINDOW_PAUSED = "window_paused"
    WINDOW_RESUMED = "window_resumed"
    WINDOW_CLOSED = "window_closed"
    QUEUE_PAUSED = "queue_paused"
    QUEUE_RESUMED = "queue_resumed"


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events: what happened (``kind``) and when (``at``, aware)."""

    kind: ClassVar[EventKind]
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, **to_plain(self)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Event:
        """The event a :meth:`to_dict` dictionary describes."""
        fields = dict(data)
        cls = EVENT_TYPES[EventKind(fields.pop("kind"))]
        return from_plain(cls, fields)


@dataclass(frozen=True, slots=True)
class DayOpened(Event):
    kind = EventKind.DAY_OPENED
    day: date


@dataclass(frozen=True, slots=True)
class DayRolled(Event):
    kind = EventKind.DAY_ROLLED
    day: date
    carried: tuple[str, ...]
    expired: tuple[str, ...]
    dropped_bookings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BookingAdded(Event):
    kind = EventKind.BOOKING_ADDED
    code: str
    service_id: str
    slot_start: datetime
    person_id: str | None


@dataclass(frozen=True, slots=True)
class TicketIssued(Event):
    kind = EventKind.TICKET_ISSUED
    ticket_id: str
    prefix: str
    number: int
    serial: int
    ticket_kind: TicketKind
    service_id: str
    person_id: str | None = None
    booking_code: str | None = None
    slot_start: datetime | None = None
    on_time: bool | None = None


@dataclass(frozen=True, slots=True)
class TicketEvent(Event):
    """An operator's action on the ticket at a window."""

    ticket_id: str
    window: int


@dataclass(frozen=True, slots=True)
class TicketCalled(TicketEvent):
    kind = EventKind.TICKET_CALLED


@dataclass(frozen=True, slots=True)
class TicketRecalled(TicketEvent):
    kind = EventKind.TICKET_RECALLED


@dataclass(frozen=True, slots=True)
class TicketNoShow(TicketEvent):
    kind = EventKind.TICKET_NO_SHOW


@dataclass(frozen=True, slots=True)
class ServiceStarted(TicketEvent):
    kind = EventKind.SERVICE_STARTED


@dataclass(frozen=True, slots=True)
class ServiceFinished(TicketEvent):
    kind = EventKind.SERVICE_FINISHED


@dataclass(frozen=True, slots=True)
class TicketRedirected(TicketEvent):
    kind = EventKind.TICKET_REDIRECTED
    to_service: str
    to_window: int | None
    comment: str


@dataclass(frozen=True, slots=True)
class WindowEvent(Event):
    window: int


@dataclass(frozen=True, slots=True)
class WindowOpened(WindowEvent):
    kind = EventKind.WINDOW_OPENED


@dataclass(frozen=True, slots=True)
class WindowPaused(WindowEvent):
    kind = EventKind.WINDOW_PAUSED
    reason: str


@dataclass(frozen=True, slots=True)
class WindowResumed(WindowEvent):
    kind = EventKind.WINDOW_RESUMED


@dataclass(frozen=True, slots=True)
class WindowClosed(WindowEvent):
    kind = EventKind.WINDOW_CLOSED


@dataclass(frozen=True, slots=True)
class QueuePaused(Event):
    kind = EventKind.QUEUE_PAUSED
    reason: PauseReason
    note: str


@dataclass(frozen=True, slots=True)
class QueueResumed(Event):
    kind = EventKind.QUEUE_RESUMED


EVENT_TYPES: dict[EventKind, type[Event]] = {
    cls.kind: cls
    for cls in (
        DayOpened, DayRolled, BookingAdded, TicketIssued, TicketCalled, TicketRecalled,
        TicketNoShow, ServiceStarted, ServiceFinished, TicketRedirected, WindowOpened,
        WindowPaused, WindowResumed, WindowClosed, QueuePaused, QueueResumed,
    )
}  # fmt: skip


# --- plain-data codec, shared by events and the queue snapshot ----------------

_T = TypeVar("_T")


def utc_ms(at: datetime) -> datetime:
    """``at`` in UTC, cut to whole milliseconds, so that what is stored is what was used."""
    if at.tzinfo is None or at.utcoffset() is None:
        # A programming error in the shell, not a person's mistake.
        raise ValueError(f"the queue takes timezone-aware datetimes, got {at!r}")
    at = at.astimezone(timezone.utc)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def encode(value: Any) -> Any:
    if isinstance(value, datetime):
        value = utc_ms(value)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    return value


def decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return decode(inner, value)
    if origin is tuple:
        return tuple(decode(typing.get_args(hint)[0], v) for v in value)
    if hint is datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if hint is date:
        return date.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value


def to_plain(obj: Any) -> dict[str, Any]:
    """A flat dataclass as a JSON-ready dictionary."""
    return {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def from_plain(cls: type[_T], data: dict[str, Any]) -> _T:
    """The inverse of :func:`to_plain`; unknown keys are an error, missing ones take defaults."""
    hints = typing.get_type_hints(cls)
    return cls(**{name: decode(hints[name], value) for name, value in data.items()})
