"""The operators' commands: a window's day and the ticket at it.

A window is CLOSED at the start of each day, OPEN while an operator works
and PAUSED during a break. It holds at most one ticket, CALLED and then
SERVING; the operator's page may pass the ``ticket_id`` it shows, so that a
stale page (a second tab, a double press) gets an explicit error instead of
acting on another visitor.
"""

from __future__ import annotations

from datetime import datetime

from kiosk.queue import events as ev
from kiosk.queue.core import QueueCore
from kiosk.errors import ErrorCode, QueueError
from kiosk.queue.events import utc_ms
from kiosk.queue.ordering import order_key
from kiosk.queue.tickets import Ticket, TicketState, WindowState, WindowStatus


class Operators(QueueCore):
    """Commands of the windows (operators)."""

    def open_window(self, window: int, now: datetime) -> WindowStatus:
        status = self.window(window)
        if status.state is not WindowState.CLOSED:
            hint = " Вікно на перерві — відновіть роботу." if status.state is WindowState.PAUSED else ""
            raise QueueError(
                ErrorCode.WINDOW_ALREADY_OPEN, f"{status.title} уже відкрите.{hint}", window=window
            )
        self._commit(ev.WindowOpened(utc_ms(now), window))
        return self.window(window)

    def pause_window(self, window: int, now: datetime, reason: str = "") -> WindowStatus:
        """A break of one window (the reason is shown); only when no one is at it."""
        status = self._idle_open_window(window)
        self._commit(ev.WindowPaused(utc_ms(now), status.number, reason))
        return self.window(window)

    def resume_window(self, window: int, now: datetime) -> WindowStatus:
        status = self.window(window)
        if status.state is not WindowState.PAUSED:
            raise QueueError(
                ErrorCode.WINDOW_NOT_PAUSED, f"{status.title} не на перерві.", window=window
            )
        self._commit(ev.WindowResumed(utc_ms(now), window))
        return self.window(window)

    def close_window(self, window: int, now: datetime) -> WindowStatus:
        status = self.window(window)
        if status.state is WindowState.CLOSED:
            raise QueueError(ErrorCode.WINDOW_NOT_OPEN, f"{status.title} уже закрите.", window=window)
        self._check_idle(status)
        self._commit(ev.WindowClosed(utc_ms(now), window))
        return self.window(window)

    def call_next(self, window: int, now: datetime) -> Ticket:
        """Call the first ticket of the line that this window may serve (see :mod:`kiosk.queue.ordering`)."""
        now = utc_ms(now)
        self._check_not_paused()
        status = self._idle_open_window(window)
        candidates = [t for t in self._waiting() if self._may_call(window, t)]
        if not candidates:
            raise QueueError(
                ErrorCode.NO_ONE_WAITING,
                f"До вікна {window} зараз ніхто не чекає.",
                window=window,
            )
        chosen = min(candidates, key=lambda t: order_key(t, now))
        self._commit(ev.TicketCalled(now, chosen.id, status.number))
        return self._s.tickets[chosen.id]

    def recall(self, window: int, now: datetime, ticket_id: str | None = None) -> Ticket:
        """Call the ticket at the window again, up to the configured number of recalls."""
        now = utc_ms(now)
        self._check_not_paused()
        t = self._called(window, ticket_id)
        limit = self.config.recalls_before_no_show
        if t.recalls >= limit:
            raise QueueError(
                ErrorCode.RECALL_LIMIT,
                f"Талон {t.label} уже викликано повторно {t.recalls} раз(и); позначте неявку.",
                ticket=t.label,
            )
        self._commit(ev.TicketRecalled(now, t.id, window))
        return self._s.tickets[t.id]

    def mark_no_show(self, window: int, now: datetime, ticket_id: str | None = None) -> Ticket:
        """Close a ticket whose visitor did not come; allowed after the configured recalls."""
        now = utc_ms(now)
        # During an alert people are in the shelter: nobody is marked absent then.
        self._check_not_paused()
        t = self._called(window, ticket_id)
        limit = self.config.recalls_before_no_show
        if t.recalls < limit:
            raise QueueError(
                ErrorCode.NO_SHOW_TOO_EARLY,
                f"Спершу викличте талон {t.label} повторно (викликів: {t.recalls} з {limit}).",
                ticket=t.label,
            )
        self._commit(ev.TicketNoShow(now, t.id, window))
        return self._s.tickets[t.id]

    def start(self, window: int, now: datetime, ticket_id: str | None = None) -> Ticket:
        """The visitor came: service begins (service time counts from here)."""
        t = self._called(window, ticket_id)
        self._commit(ev.ServiceStarted(utc_ms(now), t.id, window))
        return self._s.tickets[t.id]

    def finish(self, window: int, now: datetime, ticket_id: str | None = None) -> Ticket:
        """Service done; the window is free for the next call."""
        t = self._at_window(window, ticket_id, finishing=True)
        if t.state is TicketState.CALLED:
            raise QueueError(
                ErrorCode.NOT_STARTED,
                f"Обслуговування талона {t.label} ще не розпочато.",
                ticket=t.label,
            )
        self._commit(ev.ServiceFinished(utc_ms(now), t.id, window))
        return self._s.tickets[t.id]

    def redirect(
        self,
        window: int,
        now: datetime,
        *,
        to_service: str | None = None,
        to_window: int | None = None,
        comment: str = "",
        ticket_id: str | None = None,
    ) -> Ticket:
        """Send the visitor at this window to another service and/or window, with a comment.

        The visitor keeps the ticket number and waits again in the returning
        lane, ahead of walk-ins and bookings. Given ``to_window``, only that
        window may call the ticket, and it must provide the (new) service.
        """
        now = utc_ms(now)
        t = self._at_window(window, ticket_id)
        if to_service is None and to_window is None:
            raise QueueError(
                ErrorCode.REDIRECT_TARGET_MISSING, "Вкажіть послугу або вікно, куди перенаправити."
            )
        service_id = t.service_id if to_service is None else self.config.service(to_service).id
        if to_window is not None:
            self.config.check_window(to_window)
            if not self.config.serves(to_window, service_id):
                raise QueueError(
                    ErrorCode.WINDOW_DOES_NOT_SERVE,
                    f"Вікно {to_window} не надає послугу «{self.config.service(service_id).title}».",
                    window=to_window,
                )
        if service_id == t.service_id and to_window in (None, window):
            raise QueueError(
                ErrorCode.REDIRECT_TO_SELF,
                f"Талон {t.label} уже в цьому вікні й на цій послузі.",
                ticket=t.label,
            )
        self._commit(ev.TicketRedirected(now, t.id, window, service_id, to_window, comment.strip()))
        return self._s.tickets[t.id]

    def _at_window(self, window: int, ticket_id: str | None, *, finishing: bool = False) -> Ticket:
        """The ticket at ``window``; ``ticket_id`` is what the operator's page believes it is."""
        status = self.window(window)
        if ticket_id is not None:
            t = self.ticket(ticket_id)
            if finishing and t.state is TicketState.DONE:
                raise QueueError(
                    ErrorCode.ALREADY_FINISHED,
                    f"Обслуговування талона {t.label} вже завершено.",
                    ticket=t.label,
                )
        if status.ticket_id is None:
            raise QueueError(
                ErrorCode.WINDOW_IDLE, f"У вікні {window} зараз нікого немає.", window=window
            )
        if ticket_id is not None and ticket_id != status.ticket_id:
            raise QueueError(
                ErrorCode.STALE_TICKET,
                f"У вікні {window} зараз інший талон ({self._s.tickets[status.ticket_id].label}); "
                "оновіть сторінку.",
                window=window,
            )
        return self._s.tickets[status.ticket_id]

    def _called(self, window: int, ticket_id: str | None) -> Ticket:
        t = self._at_window(window, ticket_id)
        if t.state is not TicketState.CALLED:
            raise QueueError(
                ErrorCode.ALREADY_STARTED,
                f"Обслуговування талона {t.label} вже розпочато.",
                ticket=t.label,
            )
        return t

    def _idle_open_window(self, window: int) -> WindowStatus:
        status = self.window(window)
        if status.state is not WindowState.OPEN:
            state = "на перерві" if status.state is WindowState.PAUSED else "закрите"
            raise QueueError(ErrorCode.WINDOW_NOT_OPEN, f"{status.title} {state}.", window=window)
        self._check_idle(status)
        return status

    def _check_idle(self, status: WindowStatus) -> None:
        if status.ticket_id is not None:
            label = self._s.tickets[status.ticket_id].label
            raise QueueError(
                ErrorCode.WINDOW_BUSY,
                f"У вікні {status.number} ще талон {label}: завершіть його або позначте неявку.",
                window=status.number,
            )
