"""The queue's state and how each event changes it.

:class:`QueueState` is the fold of the event log: :meth:`QueueState.apply`
never refuses and never looks at the clock or the configuration, so a log
that was accepted once always replays to the same state, even after the
configuration changed (a ticket for a service removed since keeps its id).
Decisions (may this ticket be called, is this booking late) live in
:mod:`kiosk.queue.model`, which only hands events that it has checked.

``to_dict``/``from_dict`` give a JSON-ready snapshot: the shell may store
one at day rollover to keep the log short; replaying the log is the primary
way back after a crash.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from datetime import date, datetime
from typing import Any

from kiosk.queue import events as ev
from kiosk.queue.events import decode, encode, from_plain, to_plain
from kiosk.queue.tickets import (
    Booking,
    Call,
    QueuePause,
    Ticket,
    TicketKind,
    TicketState,
    WindowState,
    WindowStatus,
)

RECENT_CALLS = 10


def series_key(prefix: str, kind: TicketKind) -> str:
    """The daily sequence a ticket number comes from: «А:walk_in», «А:booked», «П:priority»."""
    return f"{prefix}:{kind.value}"


class QueueState:
    """Everything the queue knows now; changed only by :meth:`apply`."""

    def __init__(self, windows: tuple[int, ...], rolling_window: int) -> None:
        self.day: date | None = None
        self.serial = 0
        self.tickets: dict[str, Ticket] = {}
        self.counters: dict[str, int] = {}
        self.bookings: dict[str, Booking] = {}
        self.used_bookings: dict[str, str] = {}  # code → ticket id
        self.priority_used: set[tuple[str, str]] = set()  # (person, service) today
        self.windows: dict[int, WindowStatus] = {n: WindowStatus(n) for n in windows}
        self.pause: QueuePause | None = None
        self.pauses: list[tuple[datetime, datetime]] = []  # finished pauses of the day
        self.service_times: dict[str, deque[float]] = {}  # seconds, newest last
        self.calls: deque[Call] = deque(maxlen=RECENT_CALLS)
        self.rolling_window = rolling_window

    # --- the fold ---------------------------------------------------------------

    def apply(self, e: ev.Event) -> None:
        """Change the state as ``e`` says. Never raises for an event the model produced."""
        match e:
            case ev.DayOpened():
                self.day = e.day
            case ev.BookingAdded():
                self.bookings[e.code] = Booking(e.code, e.service_id, e.slot_start, e.person_id)
            case ev.TicketIssued():
                self._issued(e)
            case ev.TicketCalled():
                t = self.tickets[e.ticket_id]
                self._put(t, state=TicketState.CALLED, window=e.window, called_at=e.at,
                          recalls=0, calls=t.calls + 1)  # fmt: skip
                self._seat(e.window, t.id)
                self.calls.append(Call(t.label, e.window, e.at, t.kind is TicketKind.PRIORITY))
            case ev.TicketRecalled():
                t = self.tickets[e.ticket_id]
                self._put(t, recalls=t.recalls + 1)
                self.calls.append(
                    Call(t.label, e.window, e.at, t.kind is TicketKind.PRIORITY, repeat=True)
                )
            case ev.TicketNoShow():
                self._put(self.tickets[e.ticket_id], state=TicketState.NO_SHOW, closed_at=e.at)
                self._seat(e.window, None)
            case ev.ServiceStarted():
                self._put(self.tickets[e.ticket_id], state=TicketState.SERVING, started_at=e.at)
            case ev.ServiceFinished():
                t = self.tickets[e.ticket_id]
                self._put(t, state=TicketState.DONE, closed_at=e.at)
                self._seat(e.window, None)
                if t.started_at is not None:
                    times = self.service_times.setdefault(
                        t.service_id, deque(maxlen=self.rolling_window)
                    )
                    times.append((e.at - t.started_at).total_seconds())
            case ev.TicketRedirected():
                t = self.tickets[e.ticket_id]
                self._requeue(t, queued_at=e.at, service_id=e.to_service,
                              target_window=e.to_window, comment=e.comment)  # fmt: skip
                self._seat(e.window, None)
            case ev.WindowOpened() | ev.WindowResumed():
                self._window(e.window, state=WindowState.OPEN, reason="")
            case ev.WindowPaused():
                self._window(e.window, state=WindowState.PAUSED, reason=e.reason)
            case ev.WindowClosed():
                self._window(e.window, state=WindowState.CLOSED, reason="")
            case ev.QueuePaused():
                self.pause = QueuePause(e.reason, e.at, e.note)
            case ev.QueueResumed():
                if self.pause is not None:
                    self.pauses.append((self.pause.since, e.at))
                self.pause = None
            case ev.DayRolled():
                self._rolled(e)
            case _:
                raise TypeError(f"unknown event {e!r}")

    def _issued(self, e: ev.TicketIssued) -> None:
        assert self.day is not None
        ticket = Ticket(
            id=e.ticket_id, prefix=e.prefix, number=e.number, serial=e.serial,
            kind=e.ticket_kind, service_id=e.service_id, state=TicketState.WAITING,
            day=self.day, issued_at=e.at, queued_at=e.at, person_id=e.person_id,
            booking_code=e.booking_code, slot_start=e.slot_start, on_time=e.on_time,
        )  # fmt: skip
        self.tickets[ticket.id] = ticket
        self.serial = max(self.serial, e.serial)
        key = series_key(e.prefix, e.ticket_kind)
        self.counters[key] = max(self.counters.get(key, 0), e.number)
        if e.booking_code is not None:
            self.used_bookings[e.booking_code] = ticket.id
        if e.ticket_kind is TicketKind.PRIORITY and e.person_id is not None:
            self.priority_used.add((e.person_id, e.service_id))

    def _rolled(self, e: ev.DayRolled) -> None:
        for ticket_id in e.carried:
            t = self.tickets[ticket_id]
            # The original queued_at is kept: among returning visitors the one
            # who waited longest yesterday goes first.
            self._requeue(t, queued_at=t.queued_at, service_id=t.service_id,
                          target_window=None, comment=t.comment)  # fmt: skip
        for ticket_id in e.expired:
            self._put(self.tickets[ticket_id], state=TicketState.EXPIRED, closed_at=e.at)
        self.tickets = {k: t for k, t in self.tickets.items() if not t.state.is_closed}
        # Numbers restart each day, but never reuse a number a carried ticket holds.
        self.counters = {}
        for t in self.tickets.values():
            key = series_key(t.prefix, t.kind)
            self.counters[key] = max(self.counters.get(key, 0), t.number)
        self.priority_used = set()
        for code in e.dropped_bookings:
            self.bookings.pop(code, None)
            self.used_bookings.pop(code, None)
        self.windows = {n: WindowStatus(n) for n in self.windows}
        self.pauses = []
        self.calls.clear()
        self.day = e.day

    def _requeue(self, t: Ticket, **changes: Any) -> None:
        self._put(t, state=TicketState.WAITING, elevated=True, window=None, called_at=None,
                  recalls=0, started_at=None, **changes)  # fmt: skip

    def _put(self, t: Ticket, **changes: Any) -> None:
        self.tickets[t.id] = dataclasses.replace(t, **changes)

    def _seat(self, window: int, ticket_id: str | None) -> None:
        self._window(window, ticket_id=ticket_id)

    def _window(self, window: int, **changes: Any) -> None:
        current = self.windows.get(window, WindowStatus(window))
        self.windows[window] = dataclasses.replace(current, **changes)

    # --- snapshot -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot of the whole state."""
        return {
            "day": encode(self.day),
            "serial": self.serial,
            "tickets": [to_plain(t) for t in sorted(self.tickets.values(), key=lambda t: t.serial)],
            "counters": dict(sorted(self.counters.items())),
            "bookings": [to_plain(b) for b in sorted(self.bookings.values(), key=lambda b: b.code)],
            "used_bookings": dict(sorted(self.used_bookings.items())),
            "priority_used": sorted([p, s] for p, s in self.priority_used),
            "windows": [to_plain(w) for _, w in sorted(self.windows.items())],
            "pause": None if self.pause is None else to_plain(self.pause),
            "pauses": [[encode(a), encode(b)] for a, b in self.pauses],
            "service_times": {s: list(v) for s, v in sorted(self.service_times.items())},
            "calls": [to_plain(c) for c in self.calls],
            "rolling_window": self.rolling_window,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueueState:
        """The state a :meth:`to_dict` snapshot describes."""
        windows = tuple(w["number"] for w in data["windows"])
        state = cls(windows, data["rolling_window"])
        state.day = decode(date | None, data["day"])
        state.serial = data["serial"]
        state.tickets = {t.id: t for t in (from_plain(Ticket, d) for d in data["tickets"])}
        state.counters = dict(data["counters"])
        state.bookings = {b.code: b for b in (from_plain(Booking, d) for d in data["bookings"])}
        state.used_bookings = dict(data["used_bookings"])
        state.priority_used = {(p, s) for p, s in data["priority_used"]}
        state.windows = {w.number: w for w in (from_plain(WindowStatus, d) for d in data["windows"])}
        state.pause = None if data["pause"] is None else from_plain(QueuePause, data["pause"])
        state.pauses = [(decode(datetime, a), decode(datetime, b)) for a, b in data["pauses"]]
        state.service_times = {
            s: deque(v, maxlen=state.rolling_window) for s, v in data["service_times"].items()
        }
        state.calls.extend(from_plain(Call, d) for d in data["calls"])
        return state
