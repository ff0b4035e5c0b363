"""The nouns of session-hall voting: council, sitting, question, vote, ballot.

Pure data, no I/O, no clock reads: every time is passed in by the caller.
The rules (thresholds, quorum) live in :mod:`voting.rules`, the refusals in
:mod:`voting.refusals`, the events in :mod:`voting.hall.events`, and the state
machine that ties them together in :mod:`voting.hall.sitting`.

Values of :class:`Choice`, :class:`Result` and :class:`Outcome` are the
Ukrainian words of the open-data format, so they go out unchanged.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from voting.refusals import Refusal, RefusalCode
from voting.rules import Rule

__all__ = [
    "Person",
    "Council",
    "Sitting",
    "Question",
    "Choice",
    "Result",
    "Outcome",
    "VoteStatus",
    "Ballot",
    "RollCallEntry",
    "Tally",
    "Vote",
    "total_composition",
    "parse_choice",
    "voter_for_seat",
]


# --- people and the council ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who may vote: a deputy, or the head (голова), who is not a
    deputy but votes when taking part in the sitting. ``id`` is stable across
    sittings and convocations; it is the open data's ``voterId``."""

    id: str
    full_name: str

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValueError("a person needs a non-empty id")
        if not self.full_name.strip():
            raise ValueError(f"person {self.id!r} needs a full name")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "full_name": self.full_name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Person:
        return cls(id=data["id"], full_name=data["full_name"])


_EDRPOU = re.compile(r"\d{8}")
_KATOTTG = re.compile(r"UA\d{17}")


@dataclass(frozen=True, slots=True)
class Council:
    """A council (рада): its public identity, the number of deputy seats set
    for it, the deputies holding a mandate, and the head.

    ``seats`` counts every seat set by law, vacant ones too: thresholds are
    taken of it, not of the deputies who happen to hold a mandate. ``head``
    is None while the post is vacant. ``edrpou`` (ЄДРПОУ, 8 digits) and
    ``katottg`` (КАТОТТГ, ``UA`` + 17 digits) go into the open data.
    """

    name: str
    edrpou: str
    katottg: str
    seats: int
    deputies: tuple[Person, ...]
    head: Person | None = None

    def __post_init__(self) -> None:
        # Configuration is checked when it is made, not during a vote.
        if not self.name.strip():
            raise ValueError("the council needs a name")
        if not _EDRPOU.fullmatch(self.edrpou):
            raise ValueError(f"ЄДРПОУ must be 8 digits, got {self.edrpou!r}")
        if not _KATOTTG.fullmatch(self.katottg):
            raise ValueError(f"КАТОТТГ must be UA and 17 digits, got {self.katottg!r}")
        if self.seats < 1:
            raise ValueError("a council has at least one seat")
        if len(self.deputies) > self.seats:
            raise ValueError(
                f"{len(self.deputies)} deputies do not fit into {self.seats} seats"
            )
        ids = [p.id for p in self.deputies] + ([self.head.id] if self.head else [])
        if len(set(ids)) != len(ids):
            raise ValueError("deputy and head ids must be unique")

    @property
    def vacancies(self) -> int:
        """Seats without a deputy; they still count in the total composition."""
        return self.seats - len(self.deputies)

    def voters(self, *, head_takes_part: bool) -> tuple[Person, ...]:
        """Everyone who votes in a sitting, deputies first, then the head."""
        if head_takes_part and self.head is not None:
            return self.deputies + (self.head,)
        return self.deputies

    def person(self, person_id: str) -> Person | None:
        """The deputy or head with this id, or None."""
        for person in self.deputies:
            if person.id == person_id:
                return person
        if self.head is not None and self.head.id == person_id:
            return self.head
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "edrpou": self.edrpou,
            "katottg": self.katottg,
            "seats": self.seats,
            "deputies": [p.to_dict() for p in self.deputies],
            "head": self.head.to_dict() if self.head else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Council:
        head = data.get("head")
        return cls(
            name=data["name"],
            edrpou=data["edrpou"],
            katottg=data["katottg"],
            seats=int(data["seats"]),
            deputies=tuple(Person.from_dict(p) for p in data["deputies"]),
            head=Person.from_dict(head) if head else None,
        )


@dataclass(frozen=True, slots=True)
class Sitting:
    """A plenary sitting: convocation (скликання), session number, date, and
    whether the head takes part (which changes the total composition)."""

    convocation: int
    session: int
    date: date
    head_takes_part: bool

    def __post_init__(self) -> None:
        if self.convocation < 1 or self.session < 1:
            raise ValueError("convocation and session are numbered from 1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "convocation": self.convocation,
            "session": self.session,
            "date": self.date.isoformat(),
            "head_takes_part": self.head_takes_part,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sitting:
        return cls(
            convocation=int(data["convocation"]),
            session=int(data["session"]),
            date=date.fromisoformat(data["date"]),
            head_takes_part=bool(data["head_takes_part"]),
        )


def total_composition(council: Council, sitting: Sitting) -> int:
    """Загальний склад ради for this sitting: the seats set for the council,
    vacant ones included, plus the head when the head takes part (Art. 59)."""
    head = 1 if sitting.head_takes_part and council.head is not None else 0
    return council.seats + head


@dataclass(frozen=True, slots=True)
class Question:
    """A question put to the vote: agenda number, title, draft-decision
    (project) number, the rule it is decided by, and optionally its text."""

    number: str
    title: str
    project_number: str = ""
    rule: Rule = field(default_factory=Rule.majority_of_total)
    text_url: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        if not self.number.strip():
            raise ValueError("a question needs a number")
        if not self.title.strip():
            raise ValueError("a question needs a title")

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "project_number": self.project_number,
            "rule": self.rule.to_dict(),
            "text_url": self.text_url,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        return cls(
            number=data["number"],
            title=data["title"],
            project_number=data.get("project_number", ""),
            rule=Rule.from_dict(data["rule"]),
            text_url=data.get("text_url", ""),
            text=data.get("text", ""),
        )


# --- choices and results ------------------------------------------------------


class Choice(enum.StrEnum):
    """What a voter presses on the console."""

    FOR = "За"
    AGAINST = "Проти"
    ABSTAIN = "Утримався"


class Result(enum.StrEnum):
    """What each voter is recorded with when the vote closes (open data)."""

    FOR = "За"
    AGAINST = "Проти"
    ABSTAIN = "Утримався"
    NOT_VOTING = "Не голосував"
    """Registered (present) and made no choice."""
    ABSENT = "Відсутній"
    """Not registered and made no choice."""


class Outcome(enum.StrEnum):
    """The open data's ``votingResult`` of a question put to the vote."""

    ADOPTED = "Прийнято"
    NOT_ADOPTED = "Не прийнято"
    NOT_VOTED = "Не голосували"
    """The vote was cancelled: no result was established."""
    NOT_CONSIDERED = "Не розглядали"


class VoteStatus(enum.StrEnum):
    """Lifecycle: prepared → open → closed; prepared or open → cancelled;
    prepared → not_considered."""

    PREPARED = "prepared"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    NOT_CONSIDERED = "not_considered"


def parse_choice(value: str) -> Choice:
    """A choice from a console or a page: the Ukrainian value («За») or the
    English name (``FOR``, ``for``). Anything else is refused."""
    try:
        return Choice(value)
    except ValueError:
        pass
    try:
        return Choice[str(value).upper()]
    except KeyError:
        raise Refusal(RefusalCode.UNKNOWN_CHOICE, choice=value) from None


def voter_for_seat(seat_plan: Mapping[str, str], seat: str) -> str:
    """The voter id assigned to a console seat in the hall's seat plan."""
    try:
        return seat_plan[seat]
    except KeyError:
        raise Refusal(RefusalCode.UNKNOWN_SEAT, seat=seat) from None


@dataclass(frozen=True, slots=True)
class Ballot:
    """A voter's current choice in one vote. ``entered_by`` names the
    operator when the chair or secretary entered it manually for a deputy
    whose console failed; None for a ballot from the voter's own console."""

    voter_id: str
    choice: Choice
    at: datetime
    entered_by: str | None = None
    reason: str = ""

    @property
    def manual(self) -> bool:
        return self.entered_by is not None


@dataclass(frozen=True, slots=True)
class RollCallEntry:
    """One line of the roll call: a voter and what they are recorded with."""

    voter_id: str
    result: Result


@dataclass(frozen=True, slots=True)
class Tally:
    """The five counts of a vote; they add up to everyone who votes."""

    for_: int = 0
    against: int = 0
    abstain: int = 0
    not_voting: int = 0
    absent: int = 0

    @property
    def total(self) -> int:
        return self.for_ + self.against + self.abstain + self.not_voting + self.absent

    @classmethod
    def of(cls, roll_call: Iterable[RollCallEntry]) -> Tally:
        """Count a roll call."""
        counts = dict.fromkeys(Result, 0)
        for entry in roll_call:
            counts[entry.result] += 1
        return cls(
            for_=counts[Result.FOR],
            against=counts[Result.AGAINST],
            abstain=counts[Result.ABSTAIN],
            not_voting=counts[Result.NOT_VOTING],
            absent=counts[Result.ABSENT],
        )


@dataclass(frozen=True, slots=True)
class Vote:
    """One question put to the vote (a *motion* in the open data).

    ``registered_at_open`` and ``threshold`` are fixed when the vote opens,
    so the hall screen shows one number from start to close. ``roll_call``
    is fixed when it closes. ``ended_at`` is when it closed, was cancelled
    or was marked not considered; ``ended_by`` who cancelled or marked it.
    """

    uid: str
    question: Question
    allow_change: bool
    prepared_at: datetime
    status: VoteStatus = VoteStatus.PREPARED
    opened_at: datetime | None = None
    registered_at_open: int | None = None
    total_composition: int | None = None
    threshold: int | None = None
    quorum_overridden_by: str | None = None
    ballots: tuple[Ballot, ...] = ()
    ended_at: datetime | None = None
    ended_by: str | None = None
    cancel_reason: str = ""
    roll_call: tuple[RollCallEntry, ...] = ()

    def ballot_of(self, voter_id: str) -> Ballot | None:
        """The voter's current ballot in this vote, or None."""
        for ballot in self.ballots:
            if ballot.voter_id == voter_id:
                return ballot
        return None

    @property
    def finished(self) -> bool:
        """Closed, cancelled or not considered: nothing can change any more."""
        return self.status in (
            VoteStatus.CLOSED,
            VoteStatus.CANCELLED,
            VoteStatus.NOT_CONSIDERED,
        )

    @property
    def tally(self) -> Tally:
        """The counts of the closed roll call (all zero before close)."""
        return Tally.of(self.roll_call)

    @property
    def outcome(self) -> Outcome | None:
        """Adopted iff «За» ≥ threshold; None while not finished."""
        if self.status is VoteStatus.CLOSED:
            assert self.threshold is not None
            adopted = self.tally.for_ >= self.threshold
            return Outcome.ADOPTED if adopted else Outcome.NOT_ADOPTED
        if self.status is VoteStatus.CANCELLED:
            return Outcome.NOT_VOTED
        if self.status is VoteStatus.NOT_CONSIDERED:
            return Outcome.NOT_CONSIDERED
        return None
