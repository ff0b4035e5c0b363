"""The common ground of the queue's command sets: state, journal, lookups.

:class:`QueueCore` holds the configuration, the state and the journal and
offers the lookups every command needs. The commands themselves are grouped
by who gives them: :mod:`kiosk.queue.issuing` (the kiosk and the booking API),
:mod:`kiosk.queue.operators` (the windows) and :mod:`kiosk.queue.model` (the
administrator: whole-queue pause, day rollover; and the life cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from kiosk.errors import ErrorCode, QueueError
from kiosk.queue.events import Event
from kiosk.queue.services import QueueConfig
from kiosk.queue.state import QueueState
from kiosk.queue.tickets import QueuePause, Ticket, TicketState, WindowStatus

Journal = Callable[[Event], None]


class QueueCore:
    """Configuration, state and journal shared by the queue's command sets."""

    def __init__(self, config: QueueConfig, journal: Journal | None = None) -> None:
        self.config = config
        self.journal = journal
        self.events: list[Event] = []  # what this instance applied, oldest first
        self._s = QueueState(config.windows, config.rolling_window)

    def _commit(self, e: Event) -> None:
        if self.journal is not None:
            self.journal(e)  # durable first; if this raises, nothing has changed
        self._s.apply(e)
        self.events.append(e)

    # --- queries ------------------------------------------------------------------

    @property
    def day(self) -> date:
        assert self._s.day is not None
        return self._s.day

    @property
    def pause(self) -> QueuePause | None:
        """The whole-queue pause in force, or None."""
        return self._s.pause

    def ticket(self, ticket_id: str) -> Ticket:
        try:
            return self._s.tickets[ticket_id]
        except KeyError:
            raise QueueError(
                ErrorCode.UNKNOWN_TICKET, f"Талона «{ticket_id}» немає.", ticket_id=ticket_id
            ) from None

    def tickets(self) -> list[Ticket]:
        """Today's tickets (and carried-over ones) in issue order."""
        return sorted(self._s.tickets.values(), key=lambda t: t.serial)

    def window(self, number: int) -> WindowStatus:
        self.config.check_window(number)
        return self._s.windows[number]

    def windows(self) -> list[WindowStatus]:
        return [self._s.windows[n] for n in sorted(self._s.windows)]

    def _waiting(self) -> list[Ticket]:
        return [t for t in self._s.tickets.values() if t.state is TicketState.WAITING]

    def _may_call(self, window: int, t: Ticket) -> bool:
        if t.target_window is not None:
            return t.target_window == window
        return self.config.serves(window, t.service_id)

    def _check_not_paused(self) -> None:
        if self._s.pause is not None:
            raise QueueError(ErrorCode.QUEUE_PAUSED, f"{self._s.pause.text}.", reason=self._s.pause.reason)

    def _local(self, at: datetime) -> datetime:
        return at.astimezone(self.config.timezone)

