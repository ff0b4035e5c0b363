"""Refusals: bad input from a console, a person or a peer.

A refusal is an exception carrying a stable machine code (for consoles, the
WebSocket protocol, logs and metrics) and a clear message, Ukrainian first
and English second. Every command of the sitting state either returns a new
state and the event to record, or raises a :class:`Refusal` — and then
nothing has changed: the state objects are immutable.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["RefusalCode", "Refusal"]


class RefusalCode(enum.StrEnum):
    """Stable machine codes of refusals. Never rename a value: consoles and
    stored logs depend on them."""

    UNKNOWN_VOTER = "unknown_voter"
    UNKNOWN_SEAT = "unknown_seat"
    NOT_ENTITLED = "not_entitled"
    ALREADY_REGISTERED = "already_registered"
    NOT_REGISTERED = "not_registered"
    UNKNOWN_VOTE = "unknown_vote"
    VOTE_EXISTS = "vote_exists"
    ANOTHER_VOTE_OPEN = "another_vote_open"
    NOT_PREPARED = "not_prepared"
    NO_VOTE_OPEN = "no_vote_open"
    VOTE_CLOSED = "vote_closed"
    VOTE_CANCELLED = "vote_cancelled"
    VOTE_NOT_CONSIDERED = "vote_not_considered"
    DUPLICATE = "duplicate"
    CHANGE_NOT_ALLOWED = "change_not_allowed"
    UNKNOWN_CHOICE = "unknown_choice"
    NO_QUORUM = "no_quorum"
    REASON_REQUIRED = "reason_required"
    OPERATOR_REQUIRED = "operator_required"
    SITTING_NOT_STARTED = "sitting_not_started"
    SITTING_ALREADY_STARTED = "sitting_already_started"


# (Ukrainian, English) message templates; str.format fields come from the
# refusal's details.
_MESSAGES: dict[RefusalCode, tuple[str, str]] = {
    RefusalCode.UNKNOWN_VOTER: (
        "Невідомий депутат: «{voter_id}».",
        "Unknown deputy: '{voter_id}'.",
    ),
    RefusalCode.UNKNOWN_SEAT: (
        "Невідоме місце в залі: «{seat}».",
        "Unknown seat in the hall: '{seat}'.",
    ),
    RefusalCode.NOT_ENTITLED: (
        "Голова не бере участі в цьому пленарному засіданні і не голосує.",
        "The head does not take part in this plenary sitting and does not vote.",
    ),
    RefusalCode.ALREADY_REGISTERED: (
        "Депутата вже зареєстровано.",
        "The deputy is already registered.",
    ),
    RefusalCode.NOT_REGISTERED: (
        "Депутата не зареєстровано.",
        "The deputy is not registered.",
    ),
    RefusalCode.UNKNOWN_VOTE: (
        "Невідоме голосування: «{vote_uid}».",
        "Unknown vote: '{vote_uid}'.",
    ),
    RefusalCode.VOTE_EXISTS: (
        "Голосування «{vote_uid}» вже є.",
        "Vote '{vote_uid}' already exists.",
    ),
    RefusalCode.ANOTHER_VOTE_OPEN: (
        "Вже триває інше голосування: «{vote_uid}».",
        "Another vote is already open: '{vote_uid}'.",
    ),
    RefusalCode.NOT_PREPARED: (
        "Це можна зробити лише з підготовленим, ще не відкритим голосуванням.",
        "This can only be done with a prepared vote that has not been opened.",
    ),
    RefusalCode.NO_VOTE_OPEN: (
        "Голосування не відкрите.",
        "The vote is not open.",
    ),
    RefusalCode.VOTE_CLOSED: (
        "Голосування вже закрите.",
        "The vote is already closed.",
    ),
    RefusalCode.VOTE_CANCELLED: (
        "Голосування скасоване.",
        "The vote was cancelled.",
    ),
    RefusalCode.VOTE_NOT_CONSIDERED: (
        "Питання не розглядали.",
        "The question was not considered.",
    ),
    RefusalCode.DUPLICATE: (
        "Цей вибір уже враховано.",
        "This choice has already been recorded.",
    ),
    RefusalCode.CHANGE_NOT_ALLOWED: (
        "Змінювати вибір під час цього голосування не можна.",
        "Changing a choice is not allowed in this vote.",
    ),
    RefusalCode.UNKNOWN_CHOICE: (
        "Невідомий вибір: «{choice}». Можливо: За, Проти, Утримався.",
        "Unknown choice: '{choice}'. Allowed: За, Проти, Утримався.",
    ),
    RefusalCode.NO_QUORUM: (
        "Немає кворуму: зареєстровано {registered} із {total_composition}, "
        "потрібно щонайменше {required}.",
        "No quorum: {registered} of {total_composition} registered, "
        "at least {required} needed.",
    ),
    RefusalCode.REASON_REQUIRED: (
        "Потрібно зазначити причину.",
        "A reason is required.",
    ),
    RefusalCode.OPERATOR_REQUIRED: (
        "Потрібно зазначити, хто виконує дію.",
        "Who performs the action must be stated.",
    ),
    RefusalCode.SITTING_NOT_STARTED: (
        "Засідання ще не розпочато.",
        "The sitting has not been started.",
    ),
    RefusalCode.SITTING_ALREADY_STARTED: (
        "Засідання вже розпочато.",
        "The sitting has already been started.",
    ),
}


class Refusal(Exception):
    """Input refused by the domain; nothing was changed.

    ``code`` is stable for machines, ``message`` is the Ukrainian text for
    people, ``message_en`` the English one, ``details`` the values the
    messages were made from.
    """

    def __init__(self, code: RefusalCode, **details: Any) -> None:
        self.code = RefusalCode(code)
        self.details: dict[str, Any] = details
        uk, en = _MESSAGES[self.code]
        self.message = uk.format(**details)
        self.message_en = en.format(**details)
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for a WebSocket error message or a log line."""
        return {
            "code": self.code.value,
            "message": self.message,
            "message_en": self.message_en,
            "details": dict(self.details),
        }

    def __repr__(self) -> str:
        return f"Refusal({self.code.value!r}, {self.message!r})"
