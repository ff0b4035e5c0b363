"""Plain data of the queue: tickets, bookings, windows, the queue-wide pause.

All of it is immutable; the queue replaces a ticket with an updated copy
(``dataclasses.replace``) when its state changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class TicketKind(StrEnum):
    """How the visitor got the ticket; fixed for the life of the ticket."""

    WALK_IN = "walk_in"
    PRIORITY = "priority"
    BOOKED = "booked"


class TicketState(StrEnum):
    """Where a ticket is. Every ticket is in exactly one of these."""

    WAITING = "waiting"  # in the line (after issue, check-in, redirect or carry-over)
    CALLED = "called"  # shown and spoken at a window, the visitor is walking there
    SERVING = "serving"  # the operator started the service
    DONE = "done"  # service finished
    NO_SHOW = "no_show"  # did not come after the configured recalls
    EXPIRED = "expired"  # unserved at day rollover with the EXPIRE policy

    @property
    def is_closed(self) -> bool:
        return self in (TicketState.DONE, TicketState.NO_SHOW, TicketState.EXPIRED)

    @property
    def at_window(self) -> bool:
        return self in (TicketState.CALLED, TicketState.SERVING)


PRIORITY_LABEL = "Пільгова черга"
VERIFICATION_NOTE = "Перевірка документів біля вікна"


@dataclass(frozen=True, slots=True)
class Ticket:
    """A visitor's ticket and where it stands.

    ``queued_at`` is when the ticket last joined the line (issue, check-in,
    redirect); it orders the line and starts the wait statistics. ``elevated``
    marks a visitor redirected from another window or carried over from the
    day before: they keep a place ahead of new walk-ins.
    """

    id: str
    prefix: str
    number: int
    serial: int  # issue order across days; the last tie-breaker of the line
    kind: TicketKind
    service_id: str
    state: TicketState
    day: date
    issued_at: datetime
    queued_at: datetime
    person_id: str | None = None
    booking_code: str | None = None
    slot_start: datetime | None = None
    on_time: bool | None = None  # booked tickets only: checked in within the grace period
    elevated: bool = False
    target_window: int | None = None  # redirected to one window: only it may call the ticket
    window: int | None = None
    called_at: datetime | None = None
    recalls: int = 0
    calls: int = 0  # times called over its whole life (one per service after a redirect)
    started_at: datetime | None = None
    closed_at: datetime | None = None
    comment: str = ""

    @property
    def label(self) -> str:
        """What is printed and shown: «А042»."""
        return f"{self.prefix}{self.number:03d}"

    @property
    def lane_label(self) -> str:
        """The lane as the ticket and the calling screen name it (empty for the common line)."""
        if self.kind is TicketKind.PRIORITY:
            return f"{PRIORITY_LABEL}. {VERIFICATION_NOTE}"
        if self.kind is TicketKind.BOOKED:
            return "За записом" if self.on_time else "За записом (із запізненням)"
        return ""


@dataclass(frozen=True, slots=True)
class Booking:
    """A time slot booked in advance (phone, web, chatbot); checked in at the kiosk by code."""

    code: str
    service_id: str
    slot_start: datetime
    person_id: str | None = None


class WindowState(StrEnum):
    CLOSED = "closed"  # no operator (start of each day)
    OPEN = "open"
    PAUSED = "paused"  # operator on a break; the reason is shown


@dataclass(frozen=True, slots=True)
class WindowStatus:
    """A window now: its state, the reason of a pause, the ticket at it."""

    number: int
    state: WindowState = WindowState.CLOSED
    reason: str = ""
    ticket_id: str | None = None

    @property
    def title(self) -> str:
        return f"Вікно {self.number}"


class PauseReason(StrEnum):
    """Why the whole queue stopped; the value is the text shown and spoken."""

    AIR_RAID = "повітряна тривога"
    BLACKOUT = "відключення електроенергії"
    TECHNICAL = "технічна перерва"
    OTHER = "інша причина"


@dataclass(frozen=True, slots=True)
class QueuePause:
    """The whole queue stopped: shown on every screen until resumed."""

    reason: PauseReason
    since: datetime
    note: str = ""

    @property
    def text(self) -> str:
        """The banner: «Обслуговування призупинено: повітряна тривога»."""
        detail = f" ({self.note})" if self.note else ""
        return f"Обслуговування призупинено: {self.reason.value}{detail}"


@dataclass(frozen=True, slots=True)
class Call:
    """One call as the calling screen lists it: «А042 → Вікно 3»."""

    label: str
    window: int
    at: datetime
    priority: bool = False
    repeat: bool = False  # a recall of the same ticket
