"""What the queue reports to the hub, written to the outbox with the events themselves.

``queue.ticket`` (CRITICAL, never dropped): every event of a ticket's life,
with the ticket's label, service, lane and state after it. ``queue.event``
(EVENT): windows, bookings added, pauses, day changes. A whole-queue pause
also raises a hub alert (``queue:paused``) that its resumption clears.
The hourly and daily figures (``queue.hourly``, ``queue.day``) are made by
:mod:`kiosk.queue.service` from the stored log.

Nothing that identifies a resident leaves the node: the person hash of a
priority ticket and booking codes are removed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from edge.outbox import Priority
from kiosk.queue import events as ev
from kiosk.queue.model import Queue
from kiosk.queue.records import TICKET_KINDS
from kiosk.queue.views import Names

PRIVATE = ("person_id", "booking_code", "code")

Report = tuple[str, dict[str, Any], Priority]


def reports(names: Names, q: Queue, events: list[ev.Event], day: date) -> list[Report]:
    """The outbox rows for events just decided on ``q`` (which has applied them)."""
    out: list[Report] = []
    for e in events:
        body = {k: v for k, v in e.to_dict().items() if k not in PRIVATE}
        if isinstance(e, ev.DayRolled):
            body["dropped_bookings"] = len(e.dropped_bookings)  # codes stay here; how many is enough
        head = {"cnap": names.cnap, "day": day.isoformat(), "event": body}
        if e.kind in TICKET_KINDS:
            t = q.ticket(body["ticket_id"])
            head["ticket"] = {"id": t.id, "label": t.label, "service": t.service_id, "kind": t.kind.value,
                              "state": t.state.value, "window": t.window}
            out.append(("queue.ticket", head, Priority.CRITICAL))
            continue
        out.append(("queue.event", head, Priority.EVENT))
        if isinstance(e, ev.QueuePaused):
            text = f"{names.cnap}: обслуговування призупинено ({e.reason.value})"
            out.append(("alert", {"key": "queue:paused", "state": "raised", "severity": "warning",
                                  "message": text, "message_en": f"{names.cnap}: service paused ({e.reason.name})"},
                        Priority.CRITICAL))
        elif isinstance(e, ev.QueueResumed):
            out.append(("alert", {"key": "queue:paused", "state": "cleared"}, Priority.CRITICAL))
    return out
