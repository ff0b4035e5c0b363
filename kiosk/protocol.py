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

from kiosk.errors import ErrorCode

KIOSK_PATH = "/queue/kiosk"
SCREEN_PATH = "/queue/screen"
LIVE_PATH = "/queue/live"

BOARD = "board"
LANES = ("walk_in", "priority")


class Refusal:
    """Codes of refusals the queue service adds to the model's :class:`~kiosk.errors.ErrorCode`."""

    BAD_MESSAGE = "bad_message"
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    BAD_BOOKING = "bad_booking"
    BOOKING_IN_PAST = "booking_in_past"
    RATING_NOT_ALLOWED = "rating_not_allowed"
    ALREADY_RATED = "already_rated"
    UNAVAILABLE = "unavailable"


#: English twins of every refusal, by code (the Ukrainian text comes from the model).
ENGLISH: dict[str, str] = {
    ErrorCode.CONFIG_INVALID: "Invalid configuration.",
    ErrorCode.PREFIX_INVALID: "A prefix must be one Ukrainian capital letter.",
    ErrorCode.PREFIX_CONFUSABLE: "This prefix is easily mistaken for a digit.",
    ErrorCode.PREFIX_LATIN: "A prefix must be a Ukrainian letter, not a Latin one.",
    ErrorCode.PREFIX_DUPLICATE: "Two series share a prefix.",
    ErrorCode.DUPLICATE_ID: "Duplicate identifiers.",
    ErrorCode.UNKNOWN_GROUP: "Unknown group.",
    ErrorCode.SCHEDULE_INVALID: "Invalid working hours.",
    ErrorCode.RANGE_INVALID: "Invalid number range.",
    ErrorCode.UNKNOWN_SERVICE: "No such service.",
    ErrorCode.UNKNOWN_WINDOW: "No such window.",
    ErrorCode.UNKNOWN_TICKET: "No such ticket.",
    ErrorCode.TICKET_NOT_WAITING: "The ticket is no longer waiting.",
    ErrorCode.SERVICE_CLOSED: "The service is not provided now (see the working hours).",
    ErrorCode.WRONG_DAY: "The queue is not open for today yet.",
    ErrorCode.SEQUENCE_EXHAUSTED: "Ticket numbers of this series are used up for today.",
    ErrorCode.PRIORITY_LIMIT: "One priority ticket per person per service per day.",
    ErrorCode.BOOKING_UNKNOWN: "No booking with this code.",
    ErrorCode.BOOKING_USED: "This booking code has already been used.",
    ErrorCode.BOOKING_DUPLICATE: "A booking with this code already exists.",
    ErrorCode.BOOKING_NOT_TODAY: "The booking is for another day.",
    ErrorCode.QUEUE_PAUSED: "Service is paused.",
    ErrorCode.QUEUE_ALREADY_PAUSED: "Service is already paused.",
    ErrorCode.QUEUE_NOT_PAUSED: "Service is not paused.",
    ErrorCode.DAY_NOT_AFTER: "The new day must be later than the current one.",
    ErrorCode.WINDOW_NOT_OPEN: "The window is not open.",
    ErrorCode.WINDOW_ALREADY_OPEN: "The window is already open.",
    ErrorCode.WINDOW_NOT_PAUSED: "The window is not on a break.",
    ErrorCode.WINDOW_BUSY: "A visitor is still at the window: finish or mark a no-show first.",
    ErrorCode.WINDOW_IDLE: "No visitor at the window.",
    ErrorCode.WINDOW_DOES_NOT_SERVE: "That window does not provide this service.",
    ErrorCode.NO_ONE_WAITING: "No one is waiting for this window.",
    ErrorCode.STALE_TICKET: "Another ticket is at the window now; reload the page.",
    ErrorCode.ALREADY_STARTED: "Service has already started.",
    ErrorCode.NOT_STARTED: "Service has not started yet.",
    ErrorCode.ALREADY_FINISHED: "Service has already finished.",
    ErrorCode.RECALL_LIMIT: "Recalled the allowed number of times; mark a no-show.",
    ErrorCode.NO_SHOW_TOO_EARLY: "Recall the ticket first.",
    ErrorCode.REDIRECT_TARGET_MISSING: "Name a service or a window to redirect to.",
    ErrorCode.REDIRECT_TO_SELF: "The ticket is already at this window for this service.",
    ErrorCode.FEEDBACK_EMPTY: "Choose a grade or answer 0–10.",
    ErrorCode.GRADE_INVALID: "Unknown grade.",
    ErrorCode.LOYALTY_OUT_OF_RANGE: "The answer must be a whole number from 0 to 10.",
    ErrorCode.NUMBER_OUT_OF_RANGE: "Number out of range.",
    Refusal.BAD_MESSAGE: "Malformed message.",
    Refusal.BAD_REQUEST: "Malformed request.",
    Refusal.UNAUTHORIZED: "Staff token required.",
    Refusal.NOT_FOUND: "Not found.",
    Refusal.BAD_BOOKING: "Malformed booking.",
    Refusal.BOOKING_IN_PAST: "The booked slot is in a day already past.",
    Refusal.RATING_NOT_ALLOWED: "Only a ticket whose service has finished can be rated.",
    Refusal.ALREADY_RATED: "This ticket has already been rated.",
    Refusal.UNAVAILABLE: "The queue could not store the change; try again.",
}

#: Codes of bad input (the request itself is wrong), answered 400.
BAD_INPUT = frozenset({
    Refusal.BAD_MESSAGE, Refusal.BAD_REQUEST, Refusal.BAD_BOOKING, Refusal.BOOKING_IN_PAST,
    ErrorCode.FEEDBACK_EMPTY, ErrorCode.GRADE_INVALID, ErrorCode.LOYALTY_OUT_OF_RANGE,
    ErrorCode.REDIRECT_TARGET_MISSING, ErrorCode.NUMBER_OUT_OF_RANGE,
})
#: Codes naming something that does not exist, answered 404.
NOT_FOUND = frozenset({
    Refusal.NOT_FOUND, ErrorCode.UNKNOWN_SERVICE, ErrorCode.UNKNOWN_WINDOW, ErrorCode.UNKNOWN_TICKET,
    ErrorCode.BOOKING_UNKNOWN,
})

#: Every code a client may receive in ``refused`` or an HTTP error.
REFUSALS = frozenset(ENGLISH)


def http_status(code: str) -> int:
    """The HTTP status of a refusal: 400 bad input, 401, 404 unknown thing, 503, else 409 (state conflict)."""
    if code in BAD_INPUT:
        return 400
    if code == Refusal.UNAUTHORIZED:
        return 401
    if code in NOT_FOUND:
        return 404
    if code == Refusal.UNAVAILABLE:
        return 503
    return 409


def english(code: str) -> str:
    return ENGLISH.get(code, "Refused.")
