"""The voting package's refusals: its codes and their Ukrainian and English texts.

A refusal is an :class:`edge.errors.Refusal`: a stable machine code (for
consoles, the WebSocket protocol, logs and metrics), the text a person reads,
Ukrainian first and English second, and the HTTP status it answers with. Two
catalogues hold the voting texts:

* :data:`RULES` — refusals by the rules of the sitting, raised as
  :class:`Refusal` (its ``code`` is a :class:`RefusalCode`). Every command of
  the sitting state either returns a new state and the event to record, or
  raises one — and then nothing has changed: the state objects are immutable.
* :data:`HALL` — refusals by the hall before the rules are asked (a malformed
  console message, a seat of another console, a card nobody owns), raised as
  ``HALL.refuse(code, **details)``.

Over HTTP the secretary's API answers a refusal with 409 and the one error
body of :mod:`edge.web`; a console hears it as a ``refused`` message carrying
:meth:`edge.errors.Refusal.to_dict` (``voting.protocol``).
"""

from __future__ import annotations

import enum
from typing import Any

from edge import errors

__all__ = ["RefusalCode", "Refusal", "RULES", "HALL"]

# The secretary's API has always answered a refusal, by the rules or by the hall, with 409 Conflict.
CONFLICT = 409


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
_RULE_TEXTS: dict[RefusalCode, tuple[str, str]] = {
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


RULES = errors.Catalogue({code: (uk, en, CONFLICT) for code, (uk, en) in _RULE_TEXTS.items()})


class Refusal(errors.Refusal):
    """Input refused by the rules of the sitting; nothing was changed.

    An :class:`edge.errors.Refusal` made from :data:`RULES`: ``code`` is the
    :class:`RefusalCode` member itself, ``message`` the Ukrainian text for
    people, ``message_en`` the English one, ``details`` the values the texts
    were made from.
    """

    code: RefusalCode

    def __init__(self, code: RefusalCode, **details: Any) -> None:
        member = RefusalCode(code)
        text = RULES.text(member)
        super().__init__(member, text.uk.format(**details), text.en.format(**details), status=text.status,
                         details=details)
        self.code = member  # the member, not only its value: callers compare codes with `is`

    def __repr__(self) -> str:
        return f"Refusal({self.code.value!r}, {self.message!r})"


HALL = errors.Catalogue({
    "presence_required": ("Утримуйте сенсор присутності під час голосування.",
                          "Hold the presence sensor while voting.", CONFLICT),
    "not_your_seat": ("Цей пульт не обслуговує місце «{seat}».", "This console does not drive seat '{seat}'.",
                      CONFLICT),
    "card_other_seat": ("Картка належить депутату іншого місця («{other}»).",
                        "The card belongs to the deputy of another seat ('{other}').", CONFLICT),
    "unknown_card": ("Невідома картка.", "Unknown card.", CONFLICT),
    "bad_message": ("Неправильне повідомлення: {what}.", "Malformed message: {what}.", CONFLICT),
    "registration_closed": ("Реєстрацію закрито, голосування не відкрито.",
                            "Registration is closed and no vote is open.", CONFLICT),
    "no_sitting": ("Засідання не розпочато.", "No sitting has started.", CONFLICT),
    "duplicate": ("Повторне повідомлення.", "Duplicate message.", CONFLICT),
    "vote_open": ("Спершу закрийте або скасуйте відкрите голосування.", "Close or cancel the open vote first.",
                  CONFLICT),
    # The secretary's API, before any action is tried.
    "unauthorized": ("Потрібен ключ секретаря", "secretary token required", 401),
    "operator_required": ("Вкажіть, хто вносить зміну", "name the operator", 400),
})
