"""What the queue shows each client, as plain JSON (the shapes of ``kiosk.protocol``).

Pure functions of the committed queue and the time: screens, kiosks,
operator pages and ticket pages all read the same state, so they never
disagree about who is called or how long the wait is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.queue.estimate import WaitEstimate
from kiosk.queue.events import encode
from kiosk.queue.model import Queue
from kiosk.queue.stats import LOYALTY_QUESTION, RATING_QUESTION, Grade
from kiosk.queue.tickets import (PRIORITY_LABEL, VERIFICATION_NOTE, Call, QueuePause, Ticket, TicketState,
                           WindowStatus)

#: Waiting tickets listed on an operator's page (the count is always given in full).
OPERATOR_LIST = 15


@dataclass(frozen=True, slots=True)
class Names:
    """How the centre is named on every screen."""

    cnap: str
    community: str


def pause_view(pause: QueuePause | None) -> dict[str, Any] | None:
    if pause is None:
        return None
    return {"reason": pause.reason.value, "note": pause.note, "since": encode(pause.since), "text": pause.text}


def estimate_view(e: WaitEstimate) -> dict[str, Any]:
    return {"people_ahead": e.people_ahead, "low_minutes": e.low_minutes, "high_minutes": e.high_minutes,
            "text": e.text}


def call_view(c: Call) -> dict[str, Any]:
    return {"label": c.label, "window": c.window, "at": encode(c.at), "priority": c.priority, "repeat": c.repeat,
            "lane": PRIORITY_LABEL if c.priority else ""}


def window_view(w: WindowStatus, q: Queue) -> dict[str, Any]:
    return {"number": w.number, "title": w.title, "state": w.state.value, "reason": w.reason,
            "ticket": None if w.ticket_id is None else q.ticket(w.ticket_id).label}


def ticket_view(t: Ticket, q: Queue) -> dict[str, Any]:
    try:
        title = q.config.service(t.service_id).title
    except Exception:  # a service removed from the catalogue since the ticket was issued
        title = t.service_id
    return {"id": t.id, "label": t.label, "day": t.day.isoformat(), "kind": t.kind.value, "service": t.service_id,
            "service_title": title, "state": t.state.value, "lane": t.lane_label, "issued_at": encode(t.issued_at),
            "window": t.window, "target_window": t.target_window, "slot_start": encode(t.slot_start),
            "on_time": t.on_time, "recalls": t.recalls, "comment": t.comment}


def board(q: Queue, names: Names, seq: int, now: datetime) -> dict[str, Any]:
    """The calling screens' and the live feed's snapshot."""
    return {"type": "board", "seq": seq, "at": encode(now), "cnap": names.cnap, "community": names.community,
            "day": q.day.isoformat(), "pause": pause_view(q.pause),
            "calls": [call_view(c) for c in q.recent_calls()],
            "windows": [window_view(w, q) for w in q.windows()],
            "waiting": q.count_waiting()}


def menu(q: Queue, names: Names, seq: int, now: datetime, request_id: str | None = None) -> dict[str, Any]:
    """The kiosk's menu: areas → groups → services, each with its hours, windows and estimate now."""
    local = now.astimezone(q.config.timezone)
    areas = []
    for area, groups in q.config.menu():
        items = []
        for group, services in groups:
            items.append({"id": group.id, "title": group.title, "prefix": group.prefix, "services": [
                {"id": s.id, "title": s.title, "open": q.config.is_open(s.id, now),
                 "hours": q.config.schedule_of(s.id).describe(local.weekday()),
                 "windows": sorted(s.windows), "estimate": estimate_view(q.estimate_new(s.id, now))}
                for s in services]})
        areas.append({"title": area, "groups": items})
    return {"type": "menu", "id": request_id, "seq": seq, "at": encode(now), "cnap": names.cnap,
            "community": names.community, "day": q.day.isoformat(), "pause": pause_view(q.pause),
            "areas": areas, "windows": [window_view(w, q) for w in q.windows()],
            "priority": {"prefix": q.config.priority_prefix, "label": PRIORITY_LABEL, "note": VERIFICATION_NOTE},
            "rating": {"grades": [g.value for g in Grade], "question": RATING_QUESTION,
                       "loyalty_question": LOYALTY_QUESTION}}


def ticket_status(q: Queue, t: Ticket, now: datetime, can_rate: bool, names: Names) -> dict[str, Any]:
    """The public ticket page's data: where the ticket stands, and the wait while it waits."""
    estimate = estimate_view(q.estimate(t.id, now)) if t.state is TicketState.WAITING else None
    return {"ticket": ticket_view(t, q), "estimate": estimate, "pause": pause_view(q.pause), "can_rate": can_rate,
            "cnap": names.cnap, "community": names.community}


def operator_view(q: Queue, number: int, now: datetime) -> dict[str, Any]:
    """One window's page: its state, the visitor at it, the line it would call from, where to redirect."""
    status = q.window(number)
    return {
        "window": window_view(status, q),
        "ticket": None if status.ticket_id is None else ticket_view(q.ticket(status.ticket_id), q),
        "waiting": [ticket_view(t, q) for t in q.waiting(now, window=number, limit=OPERATOR_LIST)],
        "waiting_count": q.count_waiting(number),
        "recalls_before_no_show": q.config.recalls_before_no_show,
        "pause": pause_view(q.pause),
        "services": [{"id": s.id, "title": s.title, "windows": sorted(s.windows)} for s in q.config.services],
        "windows": [window_view(w, q) for w in q.windows()],
        "day": q.day.isoformat(),
    }


def state_view(q: Queue, now: datetime) -> dict[str, Any]:
    """Everything for an administrator: today's tickets, the line in call order, windows, bookings."""
    order = [t.id for t in q.waiting(now)]
    return {"day": q.day.isoformat(), "pause": pause_view(q.pause),
            "windows": [window_view(w, q) for w in q.windows()],
            "tickets": [ticket_view(t, q) for t in q.tickets()],
            "line": order, "calls": [call_view(c) for c in q.recent_calls()]}
