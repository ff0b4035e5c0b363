"""The events of a sitting: what happened, in the order it happened.

Events are the durable record. The service stores each event (and its link
in the audit hash chain, :mod:`voting.hall.audit`) before it acknowledges
anything, and after a crash rebuilds the whole sitting by replaying them
(:func:`voting.hall.sitting.replay`). An event holds only the *inputs* — who,
what, when — never derived figures such as a threshold or a tally: those are
recomputed on replay, so a stored log can never contradict itself.

``event_to_dict`` / ``event_from_dict`` give the plain JSON-able form that
goes into SQLite and into the audit chain.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from voting.hall.model import Choice, Council, Question, Sitting

__all__ = [
    "EventKind",
    "Event",
    "SittingStarted",
    "Registered",
    "Unregistered",
    "VotePrepared",
    "VoteOpened",
    "BallotCast",
    "ManualEntry",
    "VoteClosed",
    "VoteCancelled",
    "NotConsidered",
    "event_to_dict",
    "event_from_dict",
    "utc_ms",
    "format_time",
    "parse_time",
]

# --- time -------------------------------------------------------------------


def utc_ms(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to milliseconds.

    The project stores UTC ISO 8601 with milliseconds; truncating here keeps
    an event equal to itself after a round trip through storage. A naive
    datetime is a programming error: the board has no real-time clock and a
    guessed zone would move votes across midnight.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("time must be timezone-aware (UTC)")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds, e.g. ``2024-09-04T07:15:30.120Z``."""
    moment = utc_ms(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time` (accepts any ISO 8601 with a zone)."""
    return utc_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


# --- events -----------------------------------------------------------------


class EventKind(enum.StrEnum):
    """The ``kind`` field of a stored event. Never rename a value."""

    SITTING_STARTED = "sitting_started"
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    VOTE_PREPARED = "vote_prepared"
    VOTE_OPENED = "vote_opened"
    BALLOT = "ballot"
    MANUAL_ENTRY = "manual_entry"
    VOTE_CLOSED = "vote_closed"
    VOTE_CANCELLED = "vote_cancelled"
    NOT_CONSIDERED = "not_considered"


class _Timed:
    """Mixin: every event has ``at``, kept in UTC with milliseconds."""

    __slots__ = ()
    KIND: ClassVar[EventKind]

    def __post_init__(self) -> None:
        # Truncate here so that an event equals itself after storage.
        object.__setattr__(self, "at", utc_ms(self.at))  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class SittingStarted(_Timed):
    """The first event of every log: the council and the sitting as they
    stand for this sitting. Being in the chain, the composition the
    thresholds were counted from cannot be changed afterwards unnoticed."""

    KIND: ClassVar[EventKind] = EventKind.SITTING_STARTED
    council: Council
    sitting: Sitting
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered(_Timed):
    """A voter registered (card in the console, or entered by the secretary:
    then ``entered_by`` names who)."""

    KIND: ClassVar[EventKind] = EventKind.REGISTERED
    voter_id: str
    at: datetime
    entered_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unregistered(_Timed):
    """A voter's registration withdrawn (card out, left the hall)."""

    KIND: ClassVar[EventKind] = EventKind.UNREGISTERED
    voter_id: str
    at: datetime
    entered_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VotePrepared(_Timed):
    """A question put on the board for a vote, not yet open."""

    KIND: ClassVar[EventKind] = EventKind.VOTE_PREPARED
    vote_uid: str
    question: Question
    allow_change: bool
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteOpened(_Timed):
    """The chair opened the vote. ``quorum_override_by`` is set when the
    chair asked to open it even without a quorum."""

    KIND: ClassVar[EventKind] = EventKind.VOTE_OPENED
    vote_uid: str
    at: datetime
    quorum_override_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BallotCast(_Timed):
    """A choice pressed on the voter's own console."""

    KIND: ClassVar[EventKind] = EventKind.BALLOT
    vote_uid: str
    voter_id: str
    choice: Choice
    at: datetime
    console: str | None = None  # the node id of the console that sent it (journals before 2026-12 have none)


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualEntry(_Timed):
    """A choice entered by an operator for a voter whose console failed."""

    KIND: ClassVar[EventKind] = EventKind.MANUAL_ENTRY
    vote_uid: str
    voter_id: str
    choice: Choice
    entered_by: str
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteClosed(_Timed):
    """The vote closed (by the chair or by its timer)."""

    KIND: ClassVar[EventKind] = EventKind.VOTE_CLOSED
    vote_uid: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteCancelled(_Timed):
    """The vote cancelled, with the reason and who cancelled it."""

    KIND: ClassVar[EventKind] = EventKind.VOTE_CANCELLED
    vote_uid: str
    reason: str
    cancelled_by: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NotConsidered(_Timed):
    """A prepared question marked «Не розглядали»."""

    KIND: ClassVar[EventKind] = EventKind.NOT_CONSIDERED
    vote_uid: str
    marked_by: str
    at: datetime


Event = (
    SittingStarted
    | Registered
    | Unregistered
    | VotePrepared
    | VoteOpened
    | BallotCast
    | ManualEntry
    | VoteClosed
    | VoteCancelled
    | NotConsidered
)

_CLASSES: dict[EventKind, type] = {
    cls.KIND: cls
    for cls in (
        SittingStarted,
        Registered,
        Unregistered,
        VotePrepared,
        VoteOpened,
        BallotCast,
        ManualEntry,
        VoteClosed,
        VoteCancelled,
        NotConsidered,
    )
}

# How a field that is not a plain JSON value is decoded, by field name.
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "at": parse_time,
    "council": Council.from_dict,
    "sitting": Sitting.from_dict,
    "question": Question.from_dict,
    "choice": Choice,
}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Council | Sitting | Question):
        return value.to_dict()
    return value


# Optional fields added after journals existed: left out while empty, so the
# audit chain of an old journal still verifies after a decode and re-encode.
_ADDED_LATER = frozenset({"console"})


def event_to_dict(event: Event) -> dict[str, Any]:
    """The plain JSON-able form: ``kind`` plus every field; times as UTC ISO
    8601 with milliseconds, choices as their Ukrainian values."""
    data: dict[str, Any] = {"kind": event.KIND.value}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if value is None and f.name in _ADDED_LATER:
            continue  # an older event re-encodes to the very text its hash was made of
        data[f.name] = _encode(value)
    return data


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict`; raises ValueError on an unknown kind
    or a missing or unexpected field."""
    try:
        cls = _CLASSES[EventKind(data["kind"])]
    except (KeyError, ValueError):
        raise ValueError(f"unknown event kind: {data.get('kind')!r}") from None
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(data) - names - {"kind"}
    if extra:
        raise ValueError(f"unexpected fields in {data['kind']} event: {sorted(extra)}")
    kwargs = {
        name: _DECODERS.get(name, lambda v: v)(value)
        for name, value in data.items()
        if name != "kind"
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad {data['kind']} event: {exc}") from None
