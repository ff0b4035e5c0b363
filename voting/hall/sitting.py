"""The state machine of a plenary sitting: registration, votes, ballots.

:class:`SittingState` is immutable. Each command (``register``,
``open_vote``, ``cast_ballot``…) either returns ``(new_state, event)`` or
raises :class:`~voting.refusals.Refusal`; a refusal therefore changes
nothing, by construction. The service's loop is::

    new_state, event = state.cast_ballot(uid, voter_id, choice, at=now)
    store.append(event)            # durable first (with its audit link)
    state = new_state              # only now; then the LED confirms

Persistence is by **event replay**: the log of events *is* the state, and
:func:`replay` rebuilds it after a crash. A command is "make the event, then
:meth:`SittingState.apply` it", and ``apply`` checks the event with the very
same rules, so replaying a log yields exactly the state it was made with
and a log that breaks the rules is refused rather than silently obeyed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from voting.hall.events import (
    BallotCast,
    Event,
    ManualEntry,
    NotConsidered,
    Registered,
    SittingStarted,
    Unregistered,
    VoteCancelled,
    VoteClosed,
    VoteOpened,
    VotePrepared,
)
from voting.hall.model import (
    Ballot,
    Choice,
    Council,
    Person,
    Question,
    Result,
    RollCallEntry,
    Sitting,
    Vote,
    VoteStatus,
    parse_choice,
    total_composition,
)
from voting.refusals import Refusal, RefusalCode
from voting.rules import Rule, quorum_required, threshold

__all__ = ["QuorumCheck", "SittingState", "ReplayError", "replay"]


@dataclass(frozen=True, slots=True)
class QuorumCheck:
    """Is the sitting competent now (Art. 46)? With the figures to show."""

    registered: int
    total_composition: int
    required: int

    @property
    def met(self) -> bool:
        return self.registered >= self.required


class ReplayError(ValueError):
    """A stored event log that the rules refuse: names the event's index."""

    def __init__(self, index: int, refusal: Refusal) -> None:
        self.index = index
        self.refusal = refusal
        super().__init__(f"event {index}: {refusal.code.value}: {refusal.message}")


# Why a finished vote refuses what is asked of it.
_FINISHED = {
    VoteStatus.CLOSED: RefusalCode.VOTE_CLOSED,
    VoteStatus.CANCELLED: RefusalCode.VOTE_CANCELLED,
    VoteStatus.NOT_CONSIDERED: RefusalCode.VOTE_NOT_CONSIDERED,
}


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


@dataclass(frozen=True, slots=True)
class SittingState:
    """Everything the hall knows about one plenary sitting.

    ``registered`` holds the ids of voters registered now; ``votes`` every
    vote prepared in the sitting, in order. Build it with :meth:`start` or
    :func:`replay`, never directly.
    """

    council: Council
    sitting: Sitting
    started_at: datetime
    registered: frozenset[str] = frozenset()
    votes: tuple[Vote, ...] = ()

    # --- reading -----------------------------------------------------------

    @property
    def total_composition(self) -> int:
        """Загальний склад ради for this sitting."""
        return total_composition(self.council, self.sitting)

    @property
    def voters(self) -> tuple[Person, ...]:
        """Deputies, then the head when the head takes part."""
        return self.council.voters(head_takes_part=self.sitting.head_takes_part)

    @property
    def quorum(self) -> QuorumCheck:
        total = self.total_composition
        return QuorumCheck(len(self.registered), total, quorum_required(total))

    @property
    def current_vote(self) -> Vote | None:
        """The vote open now, if any (at most one is ever open)."""
        for vote in self.votes:
            if vote.status is VoteStatus.OPEN:
                return vote
        return None

    def vote(self, uid: str) -> Vote:
        """The vote with this uid; refuses an unknown uid."""
        for vote in self.votes:
            if vote.uid == uid:
                return vote
        raise Refusal(RefusalCode.UNKNOWN_VOTE, vote_uid=uid)

    def threshold_for(self, rule: Rule) -> int:
        """The «За» a vote under ``rule`` would need if opened now."""
        return threshold(
            rule,
            total_composition=self.total_composition,
            registered=len(self.registered),
        )

    def roll_call(self, uid: str) -> tuple[RollCallEntry, ...]:
        """Who is recorded with what: final once closed; while prepared or
        open, the live view (who has and has not voted yet); empty for a
        cancelled or not-considered vote, whose ballots do not count."""
        vote = self.vote(uid)
        if vote.status is VoteStatus.CLOSED:
            return vote.roll_call
        if vote.status in (VoteStatus.PREPARED, VoteStatus.OPEN):
            return self._count(vote)
        return ()

    def _count(self, vote: Vote) -> tuple[RollCallEntry, ...]:
        # A ballot decides; without one, registration tells «Не голосував»
        # (present) from «Відсутній». Everyone who votes gets exactly one line.
        entries = []
        for person in self.voters:
            ballot = vote.ballot_of(person.id)
            if ballot is not None:
                result = Result(ballot.choice.value)
            elif person.id in self.registered:
                result = Result.NOT_VOTING
            else:
                result = Result.ABSENT
            entries.append(RollCallEntry(person.id, result))
        return tuple(entries)

    # --- commands: each returns (new state, event to record) ----------------

    @classmethod
    def start(
        cls, council: Council, sitting: Sitting, *, at: datetime
    ) -> tuple[SittingState, SittingStarted]:
        """Begin a sitting. Raises ValueError for a head who is to take part
        in a council whose head post is vacant (a configuration error)."""
        event = SittingStarted(council=council, sitting=sitting, at=at)
        return cls._started(event), event

    def register(
        self, voter_id: str, *, at: datetime, entered_by: str | None = None
    ) -> tuple[SittingState, Registered]:
        """Register a voter as present (``entered_by``: by an operator)."""
        event = Registered(voter_id=voter_id, at=at, entered_by=entered_by)
        return self.apply(event), event

    def unregister(
        self, voter_id: str, *, at: datetime, entered_by: str | None = None
    ) -> tuple[SittingState, Unregistered]:
        """Withdraw a voter's registration."""
        event = Unregistered(voter_id=voter_id, at=at, entered_by=entered_by)
        return self.apply(event), event

    def prepare_vote(
        self,
        question: Question,
        *,
        at: datetime,
        allow_change: bool = False,
        uid: str | None = None,
    ) -> tuple[SittingState, VotePrepared]:
        """Put a question up for a vote. ``uid`` defaults to the open data's
        form ``<sitting date>-<ordinal in the sitting>``, e.g. 2024-09-04-1;
        pass one explicitly when two sittings share a date."""
        if uid is None:
            uid = f"{self.sitting.date.isoformat()}-{len(self.votes) + 1}"
        event = VotePrepared(
            vote_uid=uid, question=question, allow_change=allow_change, at=at
        )
        return self.apply(event), event

    def open_vote(
        self, uid: str, *, at: datetime, quorum_override_by: str | None = None
    ) -> tuple[SittingState, VoteOpened]:
        """Open a prepared vote. Without a quorum it is refused unless the
        chair overrides; the override is recorded with who gave it."""
        event = VoteOpened(vote_uid=uid, at=at, quorum_override_by=quorum_override_by)
        return self.apply(event), event

    def cast_ballot(
        self, uid: str, voter_id: str, choice: Choice | str, *, at: datetime, console: str | None = None
    ) -> tuple[SittingState, BallotCast]:
        """A choice from the voter's own console. The voter must be
        registered; ``uid`` names the vote the console believes is open, so
        a late message can never land in the next vote. ``console`` is the
        node id it came from, kept in the journal."""
        event = BallotCast(
            vote_uid=uid, voter_id=voter_id, choice=parse_choice(choice), at=at, console=console
        )
        return self.apply(event), event

    def enter_manually(
        self,
        uid: str,
        voter_id: str,
        choice: Choice | str,
        *,
        entered_by: str,
        at: datetime,
        reason: str = "",
    ) -> tuple[SittingState, ManualEntry]:
        """A choice entered by an operator for a voter whose console failed.
        Registration is not required: the failed console may be the card
        reader too; the operator vouches for the voter's presence."""
        event = ManualEntry(
            vote_uid=uid,
            voter_id=voter_id,
            choice=parse_choice(choice),
            entered_by=entered_by,
            at=at,
            reason=reason,
        )
        return self.apply(event), event

    def close_vote(
        self, uid: str, *, at: datetime
    ) -> tuple[SittingState, VoteClosed | None]:
        """Close an open vote and fix its roll call. Idempotent: closing a
        closed vote returns the same state and no event (the chair's button
        and the timer may both fire)."""
        if self.vote(uid).status is VoteStatus.CLOSED:
            return self, None
        event = VoteClosed(vote_uid=uid, at=at)
        return self.apply(event), event

    def cancel_vote(
        self, uid: str, *, reason: str, cancelled_by: str, at: datetime
    ) -> tuple[SittingState, VoteCancelled]:
        """Cancel a prepared or open vote; its ballots no longer count."""
        event = VoteCancelled(
            vote_uid=uid, reason=reason, cancelled_by=cancelled_by, at=at
        )
        return self.apply(event), event

    def mark_not_considered(
        self, uid: str, *, marked_by: str, at: datetime
    ) -> tuple[SittingState, NotConsidered]:
        """Record that a prepared question was not considered («Не розглядали»)."""
        event = NotConsidered(vote_uid=uid, marked_by=marked_by, at=at)
        return self.apply(event), event

    # --- applying events ------------------------------------------------------

    @classmethod
    def _started(cls, event: SittingStarted) -> SittingState:
        if event.sitting.head_takes_part and event.council.head is None:
            raise ValueError("the head cannot take part: the head post is vacant")
        return cls(council=event.council, sitting=event.sitting, started_at=event.at)

    def apply(self, event: Event) -> SittingState:
        """The state after ``event``; raises Refusal if the rules refuse it."""
        match event:
            case SittingStarted():
                raise Refusal(RefusalCode.SITTING_ALREADY_STARTED)
            case Registered():
                self._check_voter(event.voter_id)
                self._check_operator(event.entered_by, optional=True)
                if event.voter_id in self.registered:
                    raise Refusal(RefusalCode.ALREADY_REGISTERED)
                return dataclasses.replace(
                    self, registered=self.registered | {event.voter_id}
                )
            case Unregistered():
                self._check_voter(event.voter_id)
                self._check_operator(event.entered_by, optional=True)
                if event.voter_id not in self.registered:
                    raise Refusal(RefusalCode.NOT_REGISTERED)
                return dataclasses.replace(
                    self, registered=self.registered - {event.voter_id}
                )
            case VotePrepared():
                if _blank(event.vote_uid):
                    raise ValueError("a vote uid must not be empty")
                if any(v.uid == event.vote_uid for v in self.votes):
                    raise Refusal(RefusalCode.VOTE_EXISTS, vote_uid=event.vote_uid)
                vote = Vote(
                    uid=event.vote_uid,
                    question=event.question,
                    allow_change=event.allow_change,
                    prepared_at=event.at,
                )
                return dataclasses.replace(self, votes=self.votes + (vote,))
            case VoteOpened():
                return self._open(event)
            case BallotCast():
                return self._ballot(
                    event.vote_uid, event.voter_id, event.choice, event.at, None, ""
                )
            case ManualEntry():
                return self._ballot(
                    event.vote_uid,
                    event.voter_id,
                    event.choice,
                    event.at,
                    event.entered_by,
                    event.reason,
                )
            case VoteClosed():
                vote = self._vote_in(event.vote_uid, VoteStatus.OPEN)
                closed = dataclasses.replace(
                    vote,
                    status=VoteStatus.CLOSED,
                    ended_at=event.at,
                    roll_call=self._count(vote),
                )
                return self._with(closed)
            case VoteCancelled():
                if _blank(event.reason):
                    raise Refusal(RefusalCode.REASON_REQUIRED)
                self._check_operator(event.cancelled_by)
                vote = self._vote_in(
                    event.vote_uid, VoteStatus.PREPARED, VoteStatus.OPEN
                )
                return self._with(
                    dataclasses.replace(
                        vote,
                        status=VoteStatus.CANCELLED,
                        ended_at=event.at,
                        ended_by=event.cancelled_by,
                        cancel_reason=event.reason,
                    )
                )
            case NotConsidered():
                self._check_operator(event.marked_by)
                vote = self._vote_in(event.vote_uid, VoteStatus.PREPARED)
                return self._with(
                    dataclasses.replace(
                        vote,
                        status=VoteStatus.NOT_CONSIDERED,
                        ended_at=event.at,
                        ended_by=event.marked_by,
                    )
                )
        raise TypeError(f"not an event: {event!r}")

    def _open(self, event: VoteOpened) -> SittingState:
        vote = self.vote(event.vote_uid)
        current = self.current_vote
        if current is not None and current.uid != vote.uid:
            raise Refusal(RefusalCode.ANOTHER_VOTE_OPEN, vote_uid=current.uid)
        vote = self._vote_in(event.vote_uid, VoteStatus.PREPARED)
        check = self.quorum
        overridden_by = None
        if not check.met:
            if _blank(event.quorum_override_by):
                raise Refusal(
                    RefusalCode.NO_QUORUM,
                    registered=check.registered,
                    total_composition=check.total_composition,
                    required=check.required,
                )
            overridden_by = event.quorum_override_by
        # Threshold and base are fixed now, so the hall screen shows one
        # number from opening to close even if someone registers meanwhile.
        opened = dataclasses.replace(
            vote,
            status=VoteStatus.OPEN,
            opened_at=event.at,
            registered_at_open=check.registered,
            total_composition=check.total_composition,
            threshold=self.threshold_for(vote.question.rule),
            quorum_overridden_by=overridden_by,
        )
        return self._with(opened)

    def _ballot(
        self,
        uid: str,
        voter_id: str,
        choice: Choice,
        at: datetime,
        entered_by: str | None,
        reason: str,
    ) -> SittingState:
        vote = self._vote_in(uid, VoteStatus.OPEN)
        self._check_voter(voter_id)
        if entered_by is not None:
            self._check_operator(entered_by)
        elif voter_id not in self.registered:
            raise Refusal(RefusalCode.NOT_REGISTERED)
        previous = vote.ballot_of(voter_id)
        if previous is not None:
            if previous.choice is choice:
                raise Refusal(RefusalCode.DUPLICATE)
            if not vote.allow_change:
                raise Refusal(RefusalCode.CHANGE_NOT_ALLOWED)
        ballot = Ballot(voter_id, choice, at, entered_by, reason)
        if previous is None:
            ballots = vote.ballots + (ballot,)
        else:
            # One ballot per voter: a change replaces it in place.
            ballots = tuple(
                ballot if b.voter_id == voter_id else b for b in vote.ballots
            )
        return self._with(dataclasses.replace(vote, ballots=ballots))

    def _vote_in(self, uid: str, *allowed: VoteStatus) -> Vote:
        """The vote, if it is in one of the ``allowed`` states; otherwise the
        refusal that explains why not."""
        vote = self.vote(uid)
        if vote.status in allowed:
            return vote
        if vote.status in _FINISHED:
            raise Refusal(_FINISHED[vote.status])
        if vote.status is VoteStatus.PREPARED:
            raise Refusal(RefusalCode.NO_VOTE_OPEN)
        raise Refusal(RefusalCode.NOT_PREPARED)

    def _check_voter(self, voter_id: str) -> None:
        person = self.council.person(voter_id)
        if person is None:
            raise Refusal(RefusalCode.UNKNOWN_VOTER, voter_id=voter_id)
        if person not in self.voters:
            raise Refusal(RefusalCode.NOT_ENTITLED)

    @staticmethod
    def _check_operator(who: str | None, *, optional: bool = False) -> None:
        if who is None and optional:
            return
        if _blank(who):
            raise Refusal(RefusalCode.OPERATOR_REQUIRED)

    def _with(self, changed: Vote) -> SittingState:
        votes = tuple(changed if v.uid == changed.uid else v for v in self.votes)
        return dataclasses.replace(self, votes=votes)


def replay(events: Iterable[Event]) -> SittingState:
    """Rebuild a sitting from its stored events (the first must be
    :class:`SittingStarted`). Raises :class:`ReplayError` naming the first
    event the rules refuse."""
    state: SittingState | None = None
    for index, event in enumerate(events):
        try:
            if state is None:
                if not isinstance(event, SittingStarted):
                    raise Refusal(RefusalCode.SITTING_NOT_STARTED)
                state = SittingState._started(event)
            else:
                state = state.apply(event)
        except Refusal as refusal:
            raise ReplayError(index, refusal) from refusal
    if state is None:
        raise ReplayError(0, Refusal(RefusalCode.SITTING_NOT_STARTED))
    return state
