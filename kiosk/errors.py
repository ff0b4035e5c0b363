"""Errors of the ЦНАП queue: a stable machine code and a Ukrainian message.

Every refusal of the queue model (bad configuration, a wrong operator action,
an unknown booking code) is a :class:`QueueError`, and of the queue service a
:class:`ServiceRefusal`; both are :class:`edge.errors.Refusal`, the one
refusal of every role. The ``code`` never changes
between releases, so the operator page, the kiosk and the hub can react to it
or translate it; the ``message`` is what a person reads, in Ukrainian. A
command that raises has changed nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from edge.errors import Refusal


class ErrorCode(StrEnum):
    """Stable machine codes of queue errors (the values are part of the API)."""

    # Configuration (refused at start).
    CONFIG_INVALID = "config_invalid"
    PREFIX_INVALID = "prefix_invalid"
    PREFIX_CONFUSABLE = "prefix_confusable"
    PREFIX_LATIN = "prefix_latin"
    PREFIX_DUPLICATE = "prefix_duplicate"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_GROUP = "unknown_group"
    SCHEDULE_INVALID = "schedule_invalid"
    RANGE_INVALID = "range_invalid"
    # Lookups.
    UNKNOWN_SERVICE = "unknown_service"
    UNKNOWN_WINDOW = "unknown_window"
    UNKNOWN_TICKET = "unknown_ticket"
    TICKET_NOT_WAITING = "ticket_not_waiting"
    # Issuing tickets and bookings.
    SERVICE_CLOSED = "service_closed"
    WRONG_DAY = "wrong_day"
    SEQUENCE_EXHAUSTED = "sequence_exhausted"
    PRIORITY_LIMIT = "priority_limit"
    BOOKING_UNKNOWN = "booking_unknown"
    BOOKING_USED = "booking_used"
    BOOKING_DUPLICATE = "booking_duplicate"
    BOOKING_NOT_TODAY = "booking_not_today"
    # The whole queue.
    QUEUE_PAUSED = "queue_paused"
    QUEUE_ALREADY_PAUSED = "queue_already_paused"
    QUEUE_NOT_PAUSED = "queue_not_paused"
    DAY_NOT_AFTER = "day_not_after"
    # Windows and the ticket at a window.
    WINDOW_NOT_OPEN = "window_not_open"
    WINDOW_ALREADY_OPEN = "window_already_open"
    WINDOW_NOT_PAUSED = "window_not_paused"
    WINDOW_BUSY = "window_busy"
    WINDOW_IDLE = "window_idle"
    WINDOW_DOES_NOT_SERVE = "window_does_not_serve"
    NO_ONE_WAITING = "no_one_waiting"
    STALE_TICKET = "stale_ticket"
    ALREADY_STARTED = "already_started"
    NOT_STARTED = "not_started"
    ALREADY_FINISHED = "already_finished"
    RECALL_LIMIT = "recall_limit"
    NO_SHOW_TOO_EARLY = "no_show_too_early"
    REDIRECT_TARGET_MISSING = "redirect_target_missing"
    REDIRECT_TO_SELF = "redirect_to_self"
    # Feedback and speech.
    FEEDBACK_EMPTY = "feedback_empty"
    GRADE_INVALID = "grade_invalid"
    LOYALTY_OUT_OF_RANGE = "loyalty_out_of_range"
    NUMBER_OUT_OF_RANGE = "number_out_of_range"


class QueueError(Refusal):
    """A refused command or configuration: ``code`` for machines, ``message`` for people.

    An :class:`edge.errors.Refusal` (one JSON shape everywhere) whose English
    twin and HTTP status follow from the code (:func:`english`,
    :func:`http_status`). ``details`` carries the values the message was
    built from (the window, the ticket label, ...) so a client can render
    its own text. ``code`` stays the :class:`ErrorCode` member.
    """

    def __init__(self, code: ErrorCode, message: str, /, **details: Any) -> None:
        super().__init__(code, message, english(code), status=http_status(code), details=details)
        self.code = code  # type: ignore[assignment]  (the member: callers compare with ``is``)

    def __repr__(self) -> str:
        return f"QueueError({self.code.value!r}, {self.message!r})"


class ServiceRefusal(Refusal):
    """Refused by the queue service before or beside the model (a used rating, a malformed request)."""

    def __init__(self, code: str, message: str, /, **details: Any) -> None:
        super().__init__(code, message, english(code), status=http_status(code), details=details)


class ServiceCode:
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


#: English twins of every refusal, by code (the Ukrainian text comes from the model or the service).
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
    ServiceCode.BAD_MESSAGE: "Malformed message.",
    ServiceCode.BAD_REQUEST: "Malformed request.",
    ServiceCode.UNAUTHORIZED: "Staff token required.",
    ServiceCode.NOT_FOUND: "Not found.",
    ServiceCode.BAD_BOOKING: "Malformed booking.",
    ServiceCode.BOOKING_IN_PAST: "The booked slot is in a day already past.",
    ServiceCode.RATING_NOT_ALLOWED: "Only a ticket whose service has finished can be rated.",
    ServiceCode.ALREADY_RATED: "This ticket has already been rated.",
    ServiceCode.UNAVAILABLE: "The queue could not store the change; try again.",
}

#: Codes of bad input (the request itself is wrong), answered 400.
BAD_INPUT = frozenset({
    ServiceCode.BAD_MESSAGE, ServiceCode.BAD_REQUEST, ServiceCode.BAD_BOOKING, ServiceCode.BOOKING_IN_PAST,
    ErrorCode.FEEDBACK_EMPTY, ErrorCode.GRADE_INVALID, ErrorCode.LOYALTY_OUT_OF_RANGE,
    ErrorCode.REDIRECT_TARGET_MISSING, ErrorCode.NUMBER_OUT_OF_RANGE,
})
#: Codes naming something that does not exist, answered 404.
NOT_FOUND = frozenset({
    ServiceCode.NOT_FOUND, ErrorCode.UNKNOWN_SERVICE, ErrorCode.UNKNOWN_WINDOW, ErrorCode.UNKNOWN_TICKET,
    ErrorCode.BOOKING_UNKNOWN,
})

#: Every code a client may receive in ``refused`` or an HTTP error.
REFUSALS = frozenset(ENGLISH)


def http_status(code: str) -> int:
    """The HTTP status of a refusal: 400 bad input, 401, 404 unknown thing, 503, else 409 (state conflict)."""
    if code in BAD_INPUT:
        return 400
    if code == ServiceCode.UNAUTHORIZED:
        return 401
    if code in NOT_FOUND:
        return 404
    if code == ServiceCode.UNAVAILABLE:
        return 503
    return 409


def english(code: str) -> str:
    return ENGLISH.get(code, "Refused.")
