"""What kiosks, calling screens, operator pages and phones say to the queue.

Written down before the code, like ``voting.protocol``. Times are UTC ISO
8601 with milliseconds (``2026-03-03T08:15:03.120Z``); a ticket id is
``<day>/<label>`` (``2026-03-03/А042``); texts people read are Ukrainian,
with an English twin where a refusal is concerned.

Kiosk ↔ queue: :data:`KIOSK_PATH`
    A sealed peer socket (``edge.peers``); only nodes of the site's roster
    with the role ``kiosk`` are admitted. Every request carries ``id`` (a
    UUID made by the kiosk); the answer repeats it. A request the queue has
    already answered (same kiosk, same ``id``) gets the same answer again
    and issues nothing new, even after a restart of the queue: a double tap
    or a resend after a lost answer never prints two tickets.

    Kiosk → queue
        ``{"type": "menu", "id"}``
            the menu, answered with ``menu`` (also sent unasked after the
            handshake and whenever estimates, open windows or the pause change).
        ``{"type": "issue", "id", "service": "id-card", "lane": "walk_in" | "priority", "person": null | "<hash>"}``
            a ticket. ``person`` (a hash of a document number, never the
            number) limits the priority lane to one ticket per person per
            service per day.
        ``{"type": "check_in", "id", "code": "482913"}``
            a booked visitor: the booking code (case and spaces do not matter).
        ``{"type": "estimate", "id", "service": "id-card"}``
            what a new ticket would wait, before taking it.
        ``{"type": "rate", "id", "ticket": null | "<ticket id>", "service": null | "id-card",
           "window": null | 3, "grade": null | "чудово" … "жахливо", "loyalty": null | 0…10}``
            a resident's answers (resolution No. 864); a ticket, when given,
            names the service and the window and may be rated once.

    Queue → kiosk
        ``{"type": "menu", "id": <request id or null>, "seq", "at", "cnap", "community", "day",
           "pause": null | PAUSE, "areas": [{"title": "Паспорти", "groups": [
               {"id", "title", "prefix", "services": [
                   {"id", "title", "open": bool, "hours": "08:00–17:00",
                    "estimate": ESTIMATE, "windows": [1, 2]}]}]}],
           "windows": [WINDOW], "priority": {"prefix": "П", "label": "Пільгова черга",
           "note": "Перевірка документів біля вікна"},
           "rating": {"grades": ["чудово", …], "question": "…", "loyalty_question": "…"}}``
        ``{"type": "issued", "id", "repeat": bool, "ticket": TICKET, "estimate": ESTIMATE,
           "status_url": "http://…/queue/ticket/2026-03-03/А042"}``
            only after the ticket is committed to SQLite: the kiosk may print.
            ``repeat`` is true when this answers a request seen before.
        ``{"type": "estimate", "id", "service", "estimate": ESTIMATE}``
        ``{"type": "rated", "id"}``
        ``{"type": "refused", "id", "code", "message", "message_en", "details": {…}}``
            nothing was recorded; ``code`` is one of :data:`REFUSALS`.

Calling screen ↔ queue: :data:`SCREEN_PATH`
    A sealed peer socket for nodes with the role ``queue-display``. The
    screen sends nothing; the queue sends a whole :data:`BOARD` snapshot
    right after the handshake and after every committed change.

Public live feed: :data:`LIVE_PATH`
    A plain, read-only WebSocket with the same :data:`BOARD` snapshots, for
    operator pages and ticket status pages (they re-read their own view when
    one arrives). Nothing personal is in it.

BOARD::

    {"type": "board", "seq": 41, "at": "…Z", "cnap": "ЦНАП …", "community": "…", "day": "2026-03-03",
     "pause": null | PAUSE,
     "calls": [CALL, …],                # newest first, at most 10 (the day's last calls)
     "windows": [WINDOW, …],
     "waiting": 17}                     # tickets in the line now

    CALL    = {"label": "А042", "window": 3, "at": "…Z", "priority": false, "repeat": false,
               "lane": "" | "Пільгова черга"}
    WINDOW  = {"number": 3, "title": "Вікно 3", "state": "open" | "paused" | "closed",
               "reason": "", "ticket": null | "А042"}
    PAUSE   = {"reason": "повітряна тривога", "note": "", "since": "…Z",
               "text": "Обслуговування призупинено: повітряна тривога"}
    ESTIMATE = {"people_ahead": 4, "low_minutes": 10 | null, "high_minutes": 15 | null,
                "text": "10–15 хв" | "—"}
    TICKET  = {"id", "label", "day", "kind": "walk_in" | "priority" | "booked", "service",
               "service_title", "state", "lane", "issued_at", "window": null | 3,
               "slot_start": null | "…Z", "on_time": null | bool, "comment": ""}

Ticket status (public, for the QR code on the ticket)
    ``GET /queue/ticket/<day>/<label>``: a page; ``GET /queue/api/ticket/<day>/<label>``::

        {"ticket": TICKET, "estimate": null | ESTIMATE, "pause": null | PAUSE,
         "can_rate": bool, "cnap": "…"}

    ``estimate`` is given while the ticket waits. ``POST /queue/api/ticket/<day>/<label>/rating``
    ``{"grade", "loyalty"}``: a rating from the resident's phone, once, after service.

Operators and administrators (HTTP, ``Authorization: Bearer <staff token>``)
    See ``docs/queue.md`` for the full list; every refusal is
    ``{"error": {"code", "message", "message_en", "details"}}`` with the
    HTTP status of :func:`http_status`, and changes nothing.
"""

from __future__ import annotations

from kiosk.errors import (  # noqa: F401  (the refusals are part of the protocol)
    BAD_INPUT, ENGLISH, NOT_FOUND, REFUSALS, ErrorCode, english, http_status,
)
from kiosk.errors import ServiceCode as Refusal  # noqa: F401

__all__ = ["BAD_INPUT", "BOARD", "ENGLISH", "ErrorCode", "KIOSK_PATH", "LANES", "LIVE_PATH", "NOT_FOUND",
           "REFUSALS", "Refusal", "SCREEN_PATH", "english", "http_status"]

KIOSK_PATH = "/queue/kiosk"
SCREEN_PATH = "/queue/screen"
LIVE_PATH = "/queue/live"

BOARD = "board"
LANES = ("walk_in", "priority")
