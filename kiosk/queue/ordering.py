"""Who is called next: the one ordering rule of the line.

A window calls, among the waiting tickets it may serve, the one with the
smallest :func:`order_key`. The key is the rank of the ticket's lane, then a
time inside the lane, then the issue order:

=====================  =====  ==================================================
lane                   rank   ordered inside the lane by
=====================  =====  ==================================================
priority               0      time it joined the line
returning              1      time it joined the line (redirect time; for a
                              carried-over ticket, its original time)
booked, on time, due   2      slot start, then check-in time
general                3      time it joined the line
=====================  =====  ==================================================

* **Priority** comes first because the law gives these visitors service out
  of turn (позачергово); a priority ticket keeps rank 0 after a redirect.
* **Returning** visitors were redirected by an operator or carried over from
  a day that ended before their turn: they already waited once, so they keep
  an elevated place ahead of bookings and walk-ins.
* **Booked on time** visitors (checked in no later than the slot start plus
  the grace period) go ahead of walk-ins from their slot start on. Before the
  slot starts they stand in the general line by check-in time: an early
  visitor is never worse off than a walk-in and never jumps ahead of people
  who came before them.
* **General**: walk-ins, and booked visitors who came later than the grace
  period (they join the walk-in line at check-in time).

Which window may call a ticket: a ticket redirected to a window only that
window; any other ticket, every window that provides its service.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import IntEnum

from kiosk.queue.tickets import Ticket, TicketKind


class Rank(IntEnum):
    """Lanes of the line; lower is called first."""

    PRIORITY = 0
    RETURNING = 1
    BOOKED = 2
    GENERAL = 3


def rank(ticket: Ticket, now: datetime) -> Rank:
    """The lane of a waiting ticket at ``now`` (a booking becomes due at its slot start)."""
    if ticket.kind is TicketKind.PRIORITY:
        return Rank.PRIORITY
    if ticket.elevated:
        return Rank.RETURNING
    if ticket.kind is TicketKind.BOOKED and ticket.on_time and ticket.slot_start is not None:
        if now >= ticket.slot_start:
            return Rank.BOOKED
    return Rank.GENERAL


def order_key(ticket: Ticket, now: datetime) -> tuple[int, datetime, datetime, int]:
    """Sort key of a waiting ticket: smaller is called first."""
    lane = rank(ticket, now)
    if lane is Rank.BOOKED:
        assert ticket.slot_start is not None
        return (lane, ticket.slot_start, ticket.queued_at, ticket.serial)
    return (lane, ticket.queued_at, ticket.queued_at, ticket.serial)


def call_order(tickets: Iterable[Ticket], now: datetime) -> list[Ticket]:
    """The tickets in the order they would be called at ``now``."""
    return sorted(tickets, key=lambda t: order_key(t, now))
