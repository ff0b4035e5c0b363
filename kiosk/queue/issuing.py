"""The kiosk's commands: walk-in and priority tickets, bookings and check-in.

Numbering: walk-in and booked tickets carry their group's prefix, each in its
own range (``А001…`` and ``А700…`` by default); the priority lane has its own
prefix and sequence (``П001…``). Every sequence restarts each day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kiosk.queue import events as ev
from kiosk.queue.core import QueueCore
from kiosk.errors import ErrorCode, QueueError
from kiosk.queue.events import utc_ms
from kiosk.queue.services import NumberRange
from kiosk.queue.state import series_key
from kiosk.queue.tickets import Booking, Ticket, TicketKind


class Issuing(QueueCore):
    """Commands of the kiosk and of the booking API."""

    def booking(self, code: str) -> Booking:
        return self._booking(_normal_code(code))

    def bookings(self) -> list[tuple[Booking, str | None]]:
        """Every booking the queue holds, by slot time, with the ticket its check-in got (or None)."""
        items = sorted(self._s.bookings.values(), key=lambda b: (b.slot_start, b.code))
        return [(b, self._s.used_bookings.get(b.code)) for b in items]

    def issue_walk_in(self, service_id: str, now: datetime) -> Ticket:
        """A ticket in the general line, numbered in the group's walk-in range."""
        now = utc_ms(now)
        self._check_can_issue(service_id, now)
        prefix = self.config.prefix_of(service_id)
        return self._issue(now, prefix, TicketKind.WALK_IN, service_id)

    def issue_priority(self, service_id: str, now: datetime, person_id: str | None = None) -> Ticket:
        """A priority-lane ticket (own prefix and sequence; documents checked at the window).

        ``person_id`` (e.g. a hash of a document number) limits the lane to one
        ticket per person per service per day; None when identity is unknown.
        """
        now = utc_ms(now)
        self._check_can_issue(service_id, now)
        if person_id is not None and (person_id, service_id) in self._s.priority_used:
            raise QueueError(
                ErrorCode.PRIORITY_LIMIT,
                "Сьогодні ви вже отримали пільговий талон на цю послугу. "
                "Візьміть звичайний талон або зверніться до адміністратора.",
                service_id=service_id,
            )
        return self._issue(now, self.config.priority_prefix, TicketKind.PRIORITY, service_id,
                           person_id=person_id)  # fmt: skip

    def add_booking(self, booking: Booking, now: datetime) -> Booking:
        """Register a booked slot (from the booking API or an import); the code is case-insensitive."""
        now = utc_ms(now)
        self.config.service(booking.service_id)
        code = _normal_code(booking.code)
        if not code:
            raise QueueError(ErrorCode.BOOKING_UNKNOWN, "Код запису порожній.")
        if code in self._s.bookings:
            raise QueueError(
                ErrorCode.BOOKING_DUPLICATE, f"Запис із кодом {code} уже існує.", code=code
            )
        e = ev.BookingAdded(now, code, booking.service_id, utc_ms(booking.slot_start), booking.person_id)
        self._commit(e)
        return self._s.bookings[code]

    def check_in(self, code: str, now: datetime) -> Ticket:
        """Check in a booked visitor by code: on time → booked lane, later than the grace period → general line.

        Time the whole queue stood paused between the slot start and the
        check-in does not count as lateness (people were in the shelter).
        """
        now = utc_ms(now)
        booking = self._booking(_normal_code(code))
        if booking.code in self._s.used_bookings:
            raise QueueError(
                ErrorCode.BOOKING_USED,
                f"За кодом {booking.code} уже зареєструвалися сьогодні.",
                code=booking.code,
            )
        slot_day = self._local(booking.slot_start).date()
        if slot_day != self.day or self._local(now).date() != self.day:
            raise QueueError(
                ErrorCode.BOOKING_NOT_TODAY,
                f"Запис {booking.code} — на {slot_day:%d.%m.%Y}, а не на сьогодні.",
                code=booking.code,
            )
        self._check_not_paused()
        # Working hours are not checked here: the slot was offered within them
        # when it was booked, and a visitor on time for 16:55 is served.
        self.config.service(booking.service_id)
        late_by = now - booking.slot_start - self._paused_between(booking.slot_start, now)
        return self._issue(
            now, self.config.prefix_of(booking.service_id), TicketKind.BOOKED, booking.service_id,
            person_id=booking.person_id, booking_code=booking.code, slot_start=booking.slot_start,
            on_time=late_by <= self.config.booking_grace,
        )  # fmt: skip

    def _issue(self, now: datetime, prefix: str, kind: TicketKind, service_id: str, **extra: Any) -> Ticket:
        number = self._next_number(prefix, kind)
        ticket_id = f"{self.day.isoformat()}/{prefix}{number:03d}"
        self._commit(ev.TicketIssued(now, ticket_id, prefix, number, self._s.serial + 1, kind,
                                     service_id, **extra))  # fmt: skip
        return self._s.tickets[ticket_id]

    def _next_number(self, prefix: str, kind: TicketKind) -> int:
        numbers = self._range(kind)
        number = max(self._s.counters.get(series_key(prefix, kind), 0) + 1, numbers.first)
        if number > numbers.last:
            raise QueueError(
                ErrorCode.SEQUENCE_EXHAUSTED,
                f"Номери серії {prefix} на сьогодні вичерпано ({numbers.first}–{numbers.last}). "
                "Зверніться до адміністратора.",
                prefix=prefix,
            )
        return number

    def _range(self, kind: TicketKind) -> NumberRange:
        return {
            TicketKind.WALK_IN: self.config.walk_in_numbers,
            TicketKind.BOOKED: self.config.booked_numbers,
            TicketKind.PRIORITY: self.config.priority_numbers,
        }[kind]

    def _check_can_issue(self, service_id: str, now: datetime) -> None:
        service = self.config.service(service_id)
        local = self._local(now)
        if local.date() != self.day:
            raise QueueError(
                ErrorCode.WRONG_DAY,
                f"Черга відкрита на {self.day:%d.%m.%Y}; талони на {local:%d.%m.%Y} ще не видаються.",
            )
        self._check_not_paused()
        if not self.config.is_open(service_id, now):
            schedule = self.config.schedule_of(service_id)
            today = "сьогодні вихідний" if local.date() in schedule.closed_days else (
                f"години роботи сьогодні: {schedule.describe(local.weekday())}"
            )  # fmt: skip
            raise QueueError(
                ErrorCode.SERVICE_CLOSED,
                f"Послуга «{service.title}» зараз не надається ({today}).",
                service_id=service_id,
            )

    def _booking(self, code: str) -> Booking:
        try:
            return self._s.bookings[code]
        except KeyError:
            raise QueueError(
                ErrorCode.BOOKING_UNKNOWN,
                f"Запису з кодом «{code}» немає. Перевірте код або візьміть звичайний талон.",
                code=code,
            ) from None

    def _paused_between(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        for a, b in self._s.pauses:
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += hi - lo
        return total


def _normal_code(code: str) -> str:
    # People type codes on a touch screen; case and stray spaces must not matter.
    return code.strip().upper()
