"""Errors of the ЦНАП queue: a stable machine code and a Ukrainian message.

Every refusal of the queue model (bad configuration, a wrong operator action,
an unknown booking code) is a :class:`QueueError`. The ``code`` never changes
between releases, so the operator page, the kiosk and the hub can react to it
or translate it; the ``message`` is what a person reads, in Ukrainian. A
command that raises has changed nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


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


class QueueError(Exception):
    """A refused command or configuration: ``code`` for machines, ``message`` for people.

    ``details`` carries the values the message was built from (the window, the
    ticket label, ...) so a client can render its own text.
    """

    def __init__(self, code: ErrorCode, message: str, /, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"QueueError({self.code.value!r}, {self.message!r})"
