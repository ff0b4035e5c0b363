"""The ЦНАП electronic queue: the decisions of the kiosk, the windows and the administrator.

:class:`Queue` is the functional core of the ``queue`` role. Each command
takes the time as an aware ``datetime`` argument (the model never reads a
clock), checks everything first and either raises a
:class:`~kiosk.errors.QueueError` having changed nothing, or produces one
event (:mod:`kiosk.queue.events`), hands it to the ``journal`` and applies it.

Crash recovery is by **event replay**: the shell stores every event (its
``to_dict()``) durably in the journal callback, *before* the queue applies
it, so a ticket exists only once committed; if the journal raises, the queue
is unchanged. After a restart :meth:`Queue.replay` folds the stored events
back into the same state. :meth:`Queue.to_dict`/:meth:`Queue.from_dict`
give a snapshot to shorten the log (for instance at day rollover).

Times are kept in UTC, cut to milliseconds (as stored); working hours, the
day and hourly statistics use the configured time zone.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from kiosk.queue import events as ev
from kiosk.queue.core import Journal
from kiosk.errors import ErrorCode, QueueError
from kiosk.queue.estimate import WaitEstimate, estimate_wait, rolling_mean_minutes
from kiosk.queue.events import Event, utc_ms
from kiosk.queue.issuing import Issuing
from kiosk.queue.operators import Operators
from kiosk.queue.ordering import call_order, order_key
from kiosk.queue.services import CarryOver, QueueConfig
from kiosk.queue.state import QueueState
from kiosk.queue.tickets import (
    Call,
    PauseReason,
    QueuePause,
    Ticket,
    TicketKind,
    TicketState,
    WindowState,
    WindowStatus,
)

__all__ = ["Queue"]


class Queue(Issuing, Operators):
    """One ЦНАП's queue for the current day: tickets, bookings, windows, pauses.

    The kiosk's commands come from :class:`~kiosk.queue.issuing.Issuing`, the
    windows' from :class:`~kiosk.queue.operators.Operators`; the life cycle, the
    administrator's commands and the read-only views are here.
    """

    # --- life cycle ---------------------------------------------------------------

    @classmethod
    def open(cls, config: QueueConfig, day: date, now: datetime, journal: Journal | None = None) -> Queue:
        """A new queue for ``day``; its log starts with a DayOpened event."""
        queue = cls(config, journal)
        queue._commit(ev.DayOpened(utc_ms(now), day))
        return queue

    @classmethod
    def replay(
        cls, config: QueueConfig, events: Iterable[Event | dict[str, Any]], journal: Journal | None = None
    ) -> Queue:
        """The queue rebuilt from its stored log (events or their ``to_dict()`` forms)."""
        queue = cls(config)
        queue.follow(events)
        queue.journal = journal
        return queue

    def follow(self, events: Iterable[Event | dict[str, Any]]) -> None:
        """Apply events accepted before and already stored, without the journal.

        For the log after a :meth:`to_dict` snapshot, and for a mirror that
        shows only what has been committed while newer decisions are on their
        way to disk.
        """
        for item in events:
            e = item if isinstance(item, Event) else Event.from_dict(item)
            if self._s.day is None and not isinstance(e, ev.DayOpened):
                raise ValueError("an event log must start with day_opened")
            self._s.apply(e)
            self.events.append(e)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot of the state (the event log is not included)."""
        return self._s.to_dict()

    @classmethod
    def from_dict(cls, config: QueueConfig, data: dict[str, Any], journal: Journal | None = None) -> Queue:
        """The queue a :meth:`to_dict` snapshot describes; its ``events`` start empty."""
        queue = cls(config, journal)
        queue._s = QueueState.from_dict(data)
        for number in config.windows:  # a window added to the configuration since
            queue._s.windows.setdefault(number, WindowStatus(number))
        return queue

    # --- views -----------------------------------------------------------------------

    def recent_calls(self) -> list[Call]:
        """The last calls of the day, newest first, for the calling screen."""
        return list(reversed(self._s.calls))

    def waiting(self, now: datetime, window: int | None = None, limit: int | None = None) -> list[Ticket]:
        """Waiting tickets in call order; only those ``window`` may call, if given; the first ``limit``, if given."""
        now = utc_ms(now)
        if window is not None:
            self.config.check_window(window)
        line = (t for t in self._waiting() if window is None or self._may_call(window, t))
        if limit is not None:  # an operator's page shows the head of a long line: no need to sort it all
            return heapq.nsmallest(limit, line, key=lambda t: order_key(t, now))
        return call_order(line, now)

    def count_waiting(self, window: int | None = None) -> int:
        """How many tickets wait (that ``window`` may call, if given)."""
        return sum(1 for t in self._waiting() if window is None or self._may_call(window, t))

    def estimate(self, ticket_id: str, now: datetime) -> WaitEstimate:
        """People ahead of a waiting ticket and the expected wait."""
        t = self.ticket(ticket_id)
        if t.state is not TicketState.WAITING:
            raise QueueError(
                ErrorCode.TICKET_NOT_WAITING,
                f"Талон {t.label} уже не в черзі.",
                ticket=t.label,
            )
        return self._estimate(t, utc_ms(now))

    def estimate_new(self, service_id: str, now: datetime) -> WaitEstimate:
        """What a walk-in ticket taken now for the service would wait (shown before taking it)."""
        self.config.service(service_id)
        now = utc_ms(now)
        probe = Ticket(id="", prefix="", number=0, serial=self._s.serial + 1,
                       kind=TicketKind.WALK_IN, service_id=service_id, state=TicketState.WAITING,
                       day=self.day, issued_at=now, queued_at=now)  # fmt: skip
        return self._estimate(probe, now)

    def _estimate(self, t: Ticket, now: datetime) -> WaitEstimate:
        could_call = [n for n in self.config.windows if self._may_call(n, t)]
        open_now = [
            n for n in could_call
            if self._s.pause is None and self._s.windows[n].state is WindowState.OPEN
        ]  # fmt: skip
        # People ahead are counted against the windows that would serve the
        # ticket; with none open, against all that ever could.
        windows = open_now or could_call
        key = order_key(t, now)
        # "Some of these windows may call u", without asking each window for each ticket.
        provided = {s.id for s in self.config.services if not s.windows.isdisjoint(windows)}
        ahead = [
            u.service_id for u in self._waiting()
            if u.id != t.id and order_key(u, now) < key
            and (u.target_window in windows if u.target_window is not None else u.service_id in provided)
        ]  # fmt: skip
        busy = [
            self._s.tickets[tid].service_id
            for n in open_now if (tid := self._s.windows[n].ticket_id) is not None
        ]  # fmt: skip
        return estimate_wait(ahead, busy, len(open_now), self._mean_minutes, self.config.estimate_spread)

    def _mean_minutes(self, service_id: str) -> float:
        try:
            typical = self.config.service(service_id).typical_minutes
        except QueueError:
            typical = 10.0  # a service removed from the configuration since
        return rolling_mean_minutes(tuple(self._s.service_times.get(service_id, ())), typical)

    # --- the whole queue -----------------------------------------------------------

    def pause_queue(self, reason: PauseReason, now: datetime, note: str = "") -> QueuePause:
        """Stop calling, recalls, no-shows and issuing everywhere (air-raid alert, blackout).

        Tickets keep their places; visitors at windows stay there.
        """
        if self._s.pause is not None:
            raise QueueError(ErrorCode.QUEUE_ALREADY_PAUSED, f"{self._s.pause.text}.")
        self._commit(ev.QueuePaused(utc_ms(now), PauseReason(reason), note.strip()))
        assert self._s.pause is not None
        return self._s.pause

    def resume_queue(self, now: datetime) -> None:
        if self._s.pause is None:
            raise QueueError(ErrorCode.QUEUE_NOT_PAUSED, "Обслуговування не призупинено.")
        self._commit(ev.QueueResumed(utc_ms(now)))

    def roll_over(self, day: date, now: datetime) -> ev.DayRolled:
        """Start ``day``: numbers restart, windows close, unserved tickets follow the carry-over policy.

        Bookings of past days are dropped; later bookings stay. A whole-queue
        pause stays in force (an alert does not end at midnight).
        """
        if day <= self.day:
            raise QueueError(
                ErrorCode.DAY_NOT_AFTER,
                f"Новий день {day:%d.%m.%Y} має бути пізніше за поточний {self.day:%d.%m.%Y}.",
            )
        unserved = tuple(t.id for t in self.tickets() if not t.state.is_closed)
        carry = self.config.carry_over is CarryOver.CARRY
        dropped = tuple(
            sorted(c for c, b in self._s.bookings.items() if self._local(b.slot_start).date() < day)
        )
        e = ev.DayRolled(utc_ms(now), day, unserved if carry else (), () if carry else unserved,
                         dropped)  # fmt: skip
        self._commit(e)
        return e

