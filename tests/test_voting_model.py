"""Session-hall voting by the law: the domain core (voting.hall.model, voting.rules,
voting.hall.sitting, voting.hall.events). Each test name states the rule it holds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from voting.hall.events import (
    BallotCast,
    ManualEntry,
    Registered,
    VoteOpened,
    event_from_dict,
    event_to_dict,
    format_time,
    parse_time,
)
from voting.hall.model import (
    Choice,
    Council,
    Outcome,
    Person,
    Question,
    Result,
    Sitting,
    Tally,
    VoteStatus,
    parse_choice,
    total_composition,
    voter_for_seat,
)
from voting.refusals import Refusal, RefusalCode
from voting.rules import Rule, RuleBase, RuleKind, quorum_required, threshold
from voting.hall.sitting import ReplayError, SittingState, replay

T0 = datetime(2024, 9, 4, 7, 0, tzinfo=UTC)
DAY = date(2024, 9, 4)
UID = "2024-09-04-1"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_council(seats: int, deputies: int | None = None, *, head: bool = True) -> Council:
    """A council with ``seats`` seats of which ``deputies`` hold a mandate."""
    deputies = seats if deputies is None else deputies
    return Council(
        name="Тестова міська рада",
        edrpou="04360586",
        katottg="UA32080030010083445",
        seats=seats,
        deputies=tuple(Person(f"d{i}", f"Депутат Номер {i}") for i in range(1, deputies + 1)),
        head=Person("head", "Голова Громади") if head else None,
    )


def start(council: Council, *, head_takes_part: bool = True) -> SittingState:
    sitting = Sitting(convocation=8, session=45, date=DAY, head_takes_part=head_takes_part)
    state, _ = SittingState.start(council, sitting, at=T0)
    return state


def register(state: SittingState, voter_ids) -> SittingState:
    for voter_id in voter_ids:
        state, _ = state.register(voter_id, at=at(1))
    return state


def open_sitting_with_vote(
    seats: int = 42,
    *,
    head_takes_part: bool = True,
    registered: int | None = None,
    rule: Rule | None = None,
    allow_change: bool = False,
) -> SittingState:
    """A sitting with everyone (or the first ``registered``) registered and
    one vote open on a question under ``rule``."""
    state = start(make_council(seats), head_takes_part=head_takes_part)
    ids = [p.id for p in state.voters]
    state = register(state, ids if registered is None else ids[:registered])
    question = Question(
        "1", "Про бюджет громади на 2025 рік", "1234", rule or Rule.majority_of_total()
    )
    state, _ = state.prepare_vote(question, at=at(2), allow_change=allow_change)
    # The override is recorded only when the quorum is actually missing.
    state, _ = state.open_vote(UID, at=at(3), quorum_override_by="Голова")
    return state


def refused(code: RefusalCode, call, *args, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as info:
        call(*args, **kwargs)
    assert info.value.code is code
    return info.value


# --- the legal table ------------------------------------------------------------

# seats set, of them vacant, head takes part → total composition, more than
# half of it (ordinary decision and quorum), two thirds of it.
LEGAL_TABLE = [
    (42, 0, True, 43, 22, 29),  # reference: 42 + head → 43 → ≥22; two thirds 29
    (42, 0, False, 42, 22, 28),  # reference: 42 without the head → 28
    (60, 0, False, 60, 31, 40),  # reference: 60 → 40
    (42, 5, True, 43, 22, 29),  # vacant seats still count
    (42, 5, False, 42, 22, 28),
    (26, 0, True, 27, 14, 18),  # the demo hall
    (26, 3, False, 26, 14, 18),
    (12, 0, True, 13, 7, 9),
    (12, 0, False, 12, 7, 8),
    (14, 2, True, 15, 8, 10),
    (22, 0, True, 23, 12, 16),
    (34, 0, True, 35, 18, 24),
    (34, 1, False, 34, 18, 23),
    (64, 0, True, 65, 33, 44),
    (90, 0, True, 91, 46, 61),
    (120, 0, True, 121, 61, 81),
    (120, 10, False, 120, 61, 80),
    (3, 0, False, 3, 2, 2),
    (2, 0, False, 2, 2, 2),
    (1, 0, True, 2, 2, 2),
    (1, 0, False, 1, 1, 1),
]


@pytest.mark.parametrize(
    ("seats", "vacant", "head_in", "total", "majority", "two_thirds"), LEGAL_TABLE
)
def test_thresholds_are_counted_from_total_composition_with_vacancies_and_head(
    seats, vacant, head_in, total, majority, two_thirds
):
    council = make_council(seats, seats - vacant)
    sitting = Sitting(8, 45, DAY, head_takes_part=head_in)
    assert total_composition(council, sitting) == total
    assert threshold(Rule.majority_of_total(), total_composition=total, registered=0) == majority
    assert (
        threshold(Rule.two_thirds_of_total(), total_composition=total, registered=0)
        == two_thirds
    )
    assert quorum_required(total) == majority


@pytest.mark.parametrize(
    ("seats", "vacant", "head_in", "total", "majority", "two_thirds"), LEGAL_TABLE
)
def test_opened_vote_records_the_legal_threshold_for_each_rule(
    seats, vacant, head_in, total, majority, two_thirds
):
    state = start(make_council(seats, seats - vacant), head_takes_part=head_in)
    state = register(state, [p.id for p in state.voters])
    registered = len(state.voters)
    expected = {
        "majority": majority,
        "two_thirds": two_thirds,
        "procedural": registered // 2 + 1,
    }
    rules = {
        "majority": Rule.majority_of_total(),
        "two_thirds": Rule.two_thirds_of_total(),
        "procedural": Rule.majority_of_registered(),
    }
    for name, rule in rules.items():
        state, _ = state.prepare_vote(Question("1", name, rule=rule), at=at(2), uid=name)
        state, _ = state.open_vote(name, at=at(3), quorum_override_by="Голова")
        vote = state.vote(name)
        assert (vote.total_composition, vote.threshold) == (total, expected[name])
        state, _ = state.close_vote(name, at=at(4))


@pytest.mark.parametrize(
    ("registered", "needed"),
    [(0, 1), (1, 1), (2, 2), (3, 2), (22, 12), (30, 16), (31, 16), (43, 22)],
)
def test_procedural_vote_needs_more_than_half_of_those_registered(registered, needed):
    assert (
        threshold(Rule.majority_of_registered(), total_composition=43, registered=registered)
        == needed
    )


@pytest.mark.parametrize(
    ("fraction", "base", "strict", "total", "registered", "needed"),
    [
        (Fraction(3, 5), RuleBase.TOTAL_COMPOSITION, False, 43, 0, 26),  # ≥ 25.8
        (Fraction(3, 5), RuleBase.TOTAL_COMPOSITION, True, 45, 0, 28),  # > 27
        (Fraction(3, 5), RuleBase.TOTAL_COMPOSITION, False, 45, 0, 27),  # ≥ 27
        (Fraction(1, 2), RuleBase.TOTAL_COMPOSITION, False, 42, 0, 21),  # at least half
        (Fraction(3, 4), RuleBase.REGISTERED, False, 43, 20, 15),
        (Fraction(1, 1), RuleBase.TOTAL_COMPOSITION, False, 43, 0, 43),  # unanimity
        (Fraction(1, 3), RuleBase.REGISTERED, False, 43, 0, 1),  # never zero «За»
    ],
)
def test_configured_fraction_of_configured_base(fraction, base, strict, total, registered, needed):
    rule = Rule.custom(fraction, base, strict=strict)
    assert threshold(rule, total_composition=total, registered=registered) == needed


@given(
    total=st.integers(1, 500),
    data=st.data(),
    numerator=st.integers(1, 50),
    denominator=st.integers(1, 50),
    strict=st.booleans(),
    base=st.sampled_from(RuleBase),
)
def test_threshold_is_the_smallest_whole_number_satisfying_the_rule(
    total, data, numerator, denominator, strict, base
):
    fraction = Fraction(numerator, denominator)
    assume(fraction < 1 or (fraction == 1 and not strict))
    registered = data.draw(st.integers(0, total))
    rule = Rule.custom(fraction, base, strict=strict)
    n = threshold(rule, total_composition=total, registered=registered)
    b = total if base is RuleBase.TOTAL_COMPOSITION else registered

    # Cross-multiplied integers: an independent statement of the rule.
    def satisfies(votes: int) -> bool:
        lhs, rhs = votes * denominator, numerator * b
        return lhs > rhs if strict else lhs >= rhs

    assert satisfies(n)
    assert n == 1 or not satisfies(n - 1)


def test_rule_refuses_floats_and_impossible_fractions():
    with pytest.raises(TypeError):
        Rule.custom(0.5, RuleBase.TOTAL_COMPOSITION, strict=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Rule.custom(Fraction(3, 2), RuleBase.TOTAL_COMPOSITION, strict=False)
    with pytest.raises(ValueError):
        Rule.custom(Fraction(0), RuleBase.TOTAL_COMPOSITION, strict=False)
    with pytest.raises(ValueError):
        Rule.custom(Fraction(1), RuleBase.TOTAL_COMPOSITION, strict=True)
    with pytest.raises(ValueError):
        Rule(RuleKind.TWO_THIRDS_OF_TOTAL, Fraction(1, 2), RuleBase.TOTAL_COMPOSITION, True)


def test_rule_round_trips_through_a_plain_dict_and_describes_itself_in_ukrainian():
    for rule in (
        Rule.majority_of_total(),
        Rule.two_thirds_of_total(),
        Rule.majority_of_registered(),
        Rule.custom(Fraction(3, 5), RuleBase.REGISTERED, strict=False),
    ):
        assert Rule.from_dict(rule.to_dict()) == rule
    assert Rule.majority_of_total().describe() == "більшість від загального складу ради"
    assert Rule.custom(Fraction(3, 5), RuleBase.REGISTERED, strict=False).describe() == (
        "не менше ніж 3/5 від зареєстрованих"
    )


def test_question_is_decided_by_majority_of_total_composition_by_default():
    assert Question("1", "Про порядок денний").rule == Rule.majority_of_total()


# --- council and sitting ------------------------------------------------------------


def test_council_refuses_more_deputies_than_seats_and_duplicate_ids():
    with pytest.raises(ValueError):
        make_council(3, 4)
    with pytest.raises(ValueError):
        Council("Рада", "04360586", "UA32080030010083445", 3, (Person("a", "А"), Person("a", "Б")))


@pytest.mark.parametrize(
    ("edrpou", "katottg"), [("1234567", "UA32080030010083445"), ("04360586", "UA3208")]
)
def test_council_refuses_malformed_edrpou_and_katottg(edrpou, katottg):
    with pytest.raises(ValueError):
        Council("Рада", edrpou, katottg, 3, ())


def test_head_cannot_take_part_when_the_head_post_is_vacant():
    with pytest.raises(ValueError):
        start(make_council(5, head=False), head_takes_part=True)


def test_vacant_seats_count_in_total_composition_but_do_not_vote():
    state = start(make_council(42, 30))
    assert state.total_composition == 43
    assert len(state.voters) == 31


# --- registration and quorum ------------------------------------------------------------


def test_registering_an_unknown_deputy_is_refused():
    state = start(make_council(5))
    refusal = refused(RefusalCode.UNKNOWN_VOTER, state.register, "d99", at=T0)
    assert "d99" in refusal.message


def test_head_who_does_not_take_part_cannot_register():
    state = start(make_council(5), head_takes_part=False)
    refused(RefusalCode.NOT_ENTITLED, state.register, "head", at=T0)


def test_registering_twice_is_refused_as_already_registered():
    state = register(start(make_council(5)), ["d1"])
    refused(RefusalCode.ALREADY_REGISTERED, state.register, "d1", at=T0)
    refused(RefusalCode.NOT_REGISTERED, state.unregister, "d2", at=T0)


def test_registration_by_an_operator_needs_a_name():
    state = start(make_council(5))
    refused(RefusalCode.OPERATOR_REQUIRED, state.register, "d1", at=T0, entered_by=" ")
    state, event = state.register("d1", at=T0, entered_by="Секретар")
    assert event.entered_by == "Секретар" and "d1" in state.registered


def test_vote_cannot_open_unless_more_than_half_of_total_composition_is_registered():
    state = start(make_council(42))  # 43 with the head: quorum 22
    state = register(state, [f"d{i}" for i in range(1, 22)])  # 21
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    refusal = refused(RefusalCode.NO_QUORUM, state.open_vote, UID, at=at(3))
    assert refusal.details == {"registered": 21, "total_composition": 43, "required": 22}
    assert refusal.message == "Немає кворуму: зареєстровано 21 із 43, потрібно щонайменше 22."
    state, _ = state.register("head", at=at(4))
    state, _ = state.open_vote(UID, at=at(5))
    assert state.vote(UID).status is VoteStatus.OPEN


def test_quorum_counts_vacant_seats_in_total_composition():
    # 30 deputies hold a mandate of 42 seats: 16 present is a majority of
    # the deputies but not of the total composition (43).
    state = register(start(make_council(42, 30)), [f"d{i}" for i in range(1, 17)])
    assert not state.quorum.met and state.quorum.required == 22


def test_chair_may_open_without_quorum_and_the_override_is_recorded():
    state = register(start(make_council(42)), ["d1", "d2"])
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    refused(RefusalCode.NO_QUORUM, state.open_vote, UID, at=at(3), quorum_override_by="  ")
    state, event = state.open_vote(UID, at=at(3), quorum_override_by="Голова Громади")
    assert event.quorum_override_by == "Голова Громади"
    vote = state.vote(UID)
    assert vote.quorum_overridden_by == "Голова Громади"
    assert vote.registered_at_open == 2


def test_override_is_not_recorded_as_used_when_the_quorum_is_met():
    state = register(start(make_council(4)), ["d1", "d2", "d3"])
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    state, _ = state.open_vote(UID, at=at(3), quorum_override_by="Голова")
    assert state.vote(UID).quorum_overridden_by is None


# --- the vote lifecycle --------------------------------------------------------------


def test_vote_uid_defaults_to_sitting_date_and_ordinal_as_in_open_data():
    state = start(make_council(5))
    state, first = state.prepare_vote(Question("1", "Перше"), at=at(1))
    state, second = state.prepare_vote(Question("2", "Друге"), at=at(2))
    assert (first.vote_uid, second.vote_uid) == ("2024-09-04-1", "2024-09-04-2")
    refused(RefusalCode.VOTE_EXISTS, state.prepare_vote, Question("3", "Третє"), at=at(3), uid=UID)


def test_ballot_is_refused_while_the_vote_is_only_prepared():
    state = register(start(make_council(5)), ["d1", "d2", "d3", "d4"])
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    refused(RefusalCode.NO_VOTE_OPEN, state.cast_ballot, UID, "d1", Choice.FOR, at=at(3))


def test_only_one_vote_may_be_open_at_a_time():
    state = open_sitting_with_vote(5)
    state, _ = state.prepare_vote(Question("2", "Друге"), at=at(4))
    refusal = refused(RefusalCode.ANOTHER_VOTE_OPEN, state.open_vote, "2024-09-04-2", at=at(5))
    assert UID in refusal.message
    refused(RefusalCode.NOT_PREPARED, state.open_vote, UID, at=at(5))


def test_late_ballot_for_a_closed_vote_does_not_land_in_the_next_vote():
    state = open_sitting_with_vote(5)
    state, _ = state.close_vote(UID, at=at(10))
    state, _ = state.prepare_vote(Question("2", "Друге"), at=at(11))
    state, _ = state.open_vote("2024-09-04-2", at=at(12))
    refused(RefusalCode.VOTE_CLOSED, state.cast_ballot, UID, "d1", Choice.FOR, at=at(13))
    assert state.vote("2024-09-04-2").ballots == ()


def test_ballot_from_unknown_deputy_or_unknown_vote_is_refused():
    state = open_sitting_with_vote(5)
    refused(RefusalCode.UNKNOWN_VOTER, state.cast_ballot, UID, "d99", Choice.FOR, at=at(4))
    refused(RefusalCode.UNKNOWN_VOTE, state.cast_ballot, "nope", "d1", Choice.FOR, at=at(4))


def test_console_ballot_needs_the_deputy_registered():
    state = open_sitting_with_vote(5, registered=4)  # d1..d4; d5 and the head not
    refused(RefusalCode.NOT_REGISTERED, state.cast_ballot, UID, "d5", Choice.FOR, at=at(4))


def test_choice_is_one_of_za_proty_utrymavsia():
    assert [c.value for c in Choice] == ["За", "Проти", "Утримався"]
    assert parse_choice("Проти") is Choice.AGAINST
    assert parse_choice("abstain") is Choice.ABSTAIN
    state = open_sitting_with_vote(5)
    refusal = refused(RefusalCode.UNKNOWN_CHOICE, state.cast_ballot, UID, "d1", "Так", at=at(4))
    assert "Так" in refusal.message


def test_same_ballot_twice_is_refused_as_duplicate():
    state = open_sitting_with_vote(5)
    state, _ = state.cast_ballot(UID, "d1", Choice.FOR, at=at(4))
    refused(RefusalCode.DUPLICATE, state.cast_ballot, UID, "d1", Choice.FOR, at=at(5))


def test_changing_a_choice_is_refused_unless_the_vote_allows_it():
    state = open_sitting_with_vote(5)
    state, _ = state.cast_ballot(UID, "d1", Choice.FOR, at=at(4))
    refused(RefusalCode.CHANGE_NOT_ALLOWED, state.cast_ballot, UID, "d1", Choice.AGAINST, at=at(5))


def test_changed_choice_replaces_the_ballot_when_the_vote_allows_it():
    state = open_sitting_with_vote(5, allow_change=True)
    state, _ = state.cast_ballot(UID, "d1", Choice.FOR, at=at(4))
    state, _ = state.cast_ballot(UID, "d1", Choice.AGAINST, at=at(5))
    ballots = state.vote(UID).ballots
    assert [(b.voter_id, b.choice) for b in ballots] == [("d1", Choice.AGAINST)]


def test_manual_entry_is_recorded_with_who_entered_it():
    state = open_sitting_with_vote(5, registered=4)
    state, event = state.enter_manually(
        UID, "d5", Choice.FOR, entered_by="Секретар Петренко", at=at(4), reason="пульт не працює"
    )
    ballot = state.vote(UID).ballot_of("d5")
    assert ballot.manual and ballot.entered_by == "Секретар Петренко"
    assert ballot.reason == "пульт не працює" and event.entered_by == "Секретар Петренко"
    state, _ = state.close_vote(UID, at=at(10))
    assert dict((e.voter_id, e.result) for e in state.vote(UID).roll_call)["d5"] is Result.FOR


def test_manual_entry_needs_an_operator_and_an_open_vote():
    state = open_sitting_with_vote(5)
    refused(
        RefusalCode.OPERATOR_REQUIRED,
        state.enter_manually, UID, "d1", "За", entered_by="", at=at(4),
    )  # fmt: skip
    closed, _ = state.close_vote(UID, at=at(5))
    refused(
        RefusalCode.VOTE_CLOSED,
        closed.enter_manually, UID, "d1", "За", entered_by="Секретар", at=at(6),
    )  # fmt: skip


def test_at_close_every_voter_has_exactly_one_of_the_five_results():
    state = start(make_council(6, 5))  # one vacant seat; head takes part
    state = register(state, ["d1", "d2", "d3", "d4", "head"])
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    state, _ = state.open_vote(UID, at=at(3))
    state, _ = state.cast_ballot(UID, "d1", Choice.FOR, at=at(4))
    state, _ = state.cast_ballot(UID, "d2", Choice.AGAINST, at=at(4))
    state, _ = state.cast_ballot(UID, "head", Choice.ABSTAIN, at=at(4))
    state, _ = state.close_vote(UID, at=at(5))
    roll_call = {e.voter_id: e.result for e in state.vote(UID).roll_call}
    assert roll_call == {
        "d1": Result.FOR,
        "d2": Result.AGAINST,
        "d3": Result.NOT_VOTING,
        "d4": Result.NOT_VOTING,
        "d5": Result.ABSENT,
        "head": Result.ABSTAIN,
    }
    assert state.vote(UID).tally == Tally(1, 1, 1, 2, 1)


def test_head_who_does_not_take_part_is_not_in_the_roll_call():
    state = open_sitting_with_vote(5, head_takes_part=False)
    refused(RefusalCode.NOT_ENTITLED, state.cast_ballot, UID, "head", Choice.FOR, at=at(4))
    state, _ = state.close_vote(UID, at=at(5))
    assert [e.voter_id for e in state.vote(UID).roll_call] == ["d1", "d2", "d3", "d4", "d5"]


def cast_for(state: SittingState, n_for: int, n_against: int = 0) -> SittingState:
    ids = [p.id for p in state.voters]
    for voter_id in ids[:n_for]:
        state, _ = state.cast_ballot(UID, voter_id, Choice.FOR, at=at(4))
    for voter_id in ids[n_for : n_for + n_against]:
        state, _ = state.cast_ballot(UID, voter_id, Choice.AGAINST, at=at(4))
    return state


def test_decision_needs_majority_of_total_composition_not_of_present():
    # 42 seats + head = 43; only 25 present; 21 «За», nobody against: not adopted.
    state = cast_for(open_sitting_with_vote(42, registered=25), 21)
    state, _ = state.close_vote(UID, at=at(10))
    assert state.vote(UID).outcome is Outcome.NOT_ADOPTED
    state = cast_for(open_sitting_with_vote(42, registered=25), 22, 3)
    state, _ = state.close_vote(UID, at=at(10))
    assert state.vote(UID).outcome is Outcome.ADOPTED


def test_two_thirds_vote_with_head_needs_29_of_43():
    rule = Rule.two_thirds_of_total()
    for n_for, outcome in ((28, Outcome.NOT_ADOPTED), (29, Outcome.ADOPTED)):
        state = cast_for(open_sitting_with_vote(42, rule=rule), n_for)
        state, _ = state.close_vote(UID, at=at(10))
        assert state.vote(UID).outcome is outcome


def test_procedural_threshold_is_fixed_when_the_vote_opens():
    state = open_sitting_with_vote(10, registered=7, rule=Rule.majority_of_registered())
    assert state.vote(UID).threshold == 4
    state = register(state, ["d8", "d9", "d10"])
    assert state.vote(UID).threshold == 4


def test_ballot_counts_even_if_the_deputy_leaves_before_close():
    state = open_sitting_with_vote(5)
    state, _ = state.cast_ballot(UID, "d1", Choice.FOR, at=at(4))
    state, _ = state.unregister("d1", at=at(5))
    state, _ = state.unregister("d2", at=at(5))
    state, _ = state.close_vote(UID, at=at(6))
    roll_call = {e.voter_id: e.result for e in state.vote(UID).roll_call}
    assert (roll_call["d1"], roll_call["d2"]) == (Result.FOR, Result.ABSENT)


def test_live_roll_call_shows_who_has_and_has_not_voted_yet():
    state = open_sitting_with_vote(3, registered=3)  # d1..d3; head not registered
    state, _ = state.cast_ballot(UID, "d2", Choice.AGAINST, at=at(4))
    assert [(e.voter_id, e.result) for e in state.roll_call(UID)] == [
        ("d1", Result.NOT_VOTING),
        ("d2", Result.AGAINST),
        ("d3", Result.NOT_VOTING),
        ("head", Result.ABSENT),
    ]
    assert state.vote(UID).roll_call == () and state.vote(UID).outcome is None


def test_closing_is_idempotent():
    state = cast_for(open_sitting_with_vote(5), 4)
    closed, event = state.close_vote(UID, at=at(10))
    again, no_event = closed.close_vote(UID, at=at(20))
    assert event is not None and no_event is None
    assert again is closed and again.vote(UID).ended_at == at(10)


def test_closing_a_vote_that_never_opened_or_was_cancelled_is_refused():
    state = register(start(make_council(5)), ["d1", "d2", "d3"])
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    refused(RefusalCode.NO_VOTE_OPEN, state.close_vote, UID, at=at(3))
    state, _ = state.cancel_vote(UID, reason="зняте з розгляду", cancelled_by="Голова", at=at(4))
    refused(RefusalCode.VOTE_CANCELLED, state.close_vote, UID, at=at(5))


def test_cancel_needs_a_reason_and_who_cancels():
    state = open_sitting_with_vote(5)
    cancel = state.cancel_vote
    refused(RefusalCode.REASON_REQUIRED, cancel, UID, reason=" ", cancelled_by="Голова", at=at(4))
    refused(RefusalCode.OPERATOR_REQUIRED, cancel, UID, reason="збій", cancelled_by="", at=at(4))


def test_cancelled_vote_is_not_voted_and_takes_no_more_ballots():
    state = cast_for(open_sitting_with_vote(5), 2)
    state, event = state.cancel_vote(UID, reason="технічний збій", cancelled_by="Голова", at=at(5))
    vote = state.vote(UID)
    assert vote.status is VoteStatus.CANCELLED and vote.outcome is Outcome.NOT_VOTED
    assert (vote.cancel_reason, vote.ended_by) == ("технічний збій", "Голова")
    assert state.roll_call(UID) == ()
    refused(RefusalCode.VOTE_CANCELLED, state.cast_ballot, UID, "d5", Choice.FOR, at=at(6))
    # A cancelled vote frees the hall for the next one.
    state, _ = state.prepare_vote(Question("1", "Про бюджет (повторно)"), at=at(7))
    state, _ = state.open_vote("2024-09-04-2", at=at(8))


def test_a_closed_vote_cannot_be_cancelled():
    state, _ = open_sitting_with_vote(5).close_vote(UID, at=at(5))
    cancel = state.cancel_vote
    refused(RefusalCode.VOTE_CLOSED, cancel, UID, reason="x", cancelled_by="Голова", at=at(6))


def test_question_not_considered_is_recorded_as_ne_rozghliadaly():
    state = start(make_council(5))
    state, _ = state.prepare_vote(Question("7", "Про перейменування вулиці"), at=at(2))
    state, _ = state.mark_not_considered(UID, marked_by="Голова", at=at(3))
    assert state.vote(UID).outcome is Outcome.NOT_CONSIDERED
    assert Outcome.NOT_CONSIDERED.value == "Не розглядали"
    refused(RefusalCode.VOTE_NOT_CONSIDERED, state.open_vote, UID, at=at(4))


def test_an_open_vote_cannot_be_marked_not_considered():
    state = open_sitting_with_vote(5)
    refused(RefusalCode.NOT_PREPARED, state.mark_not_considered, UID, marked_by="Голова", at=at(4))


def test_refusal_carries_stable_code_ukrainian_message_and_english_second():
    state = start(make_council(5))
    refusal = refused(RefusalCode.UNKNOWN_VOTE, state.open_vote, "x", at=T0)
    assert refusal.to_dict() == {
        "code": "unknown_vote",
        "message": "Невідоме голосування: «x».",
        "message_en": "Unknown vote: 'x'.",
        "details": {"vote_uid": "x"},
    }


def test_unknown_console_seat_is_refused():
    plan = {"A1": "d1"}
    assert voter_for_seat(plan, "A1") == "d1"
    refused(RefusalCode.UNKNOWN_SEAT, voter_for_seat, plan, "Z9")


# --- time and persistence ---------------------------------------------------------------


def test_times_are_kept_in_utc_with_milliseconds_and_naive_times_are_refused():
    kyiv = timezone(timedelta(hours=3))
    event = Registered(voter_id="d1", at=datetime(2024, 9, 4, 10, 0, 0, 123456, tzinfo=kyiv))
    assert event.at == datetime(2024, 9, 4, 7, 0, 0, 123000, tzinfo=UTC)
    assert format_time(event.at) == "2024-09-04T07:00:00.123Z"
    assert parse_time("2024-09-04T07:00:00.123Z") == event.at
    with pytest.raises(ValueError):
        Registered(voter_id="d1", at=datetime(2024, 9, 4, 10, 0))


def full_sitting_events():
    """Every kind of event, as a service would have recorded them."""
    events = []
    state, event = SittingState.start(make_council(5, 4), Sitting(8, 45, DAY, True), at=T0)
    events.append(event)

    def do(step):
        nonlocal state
        state, event = step(state)
        events.append(event)

    for voter_id in ("d1", "d2", "d3", "head"):
        do(lambda s, v=voter_id: s.register(v, at=at(1)))
    question = Question(
        "1",
        "Про бюджет",
        "12-1",
        Rule.two_thirds_of_total(),
        "https://rada.example/1",
        "Текст, «цитата»",
    )
    do(lambda s: s.prepare_vote(question, at=at(2), allow_change=True))
    do(lambda s: s.open_vote(UID, at=at(3)))
    do(lambda s: s.cast_ballot(UID, "d1", Choice.FOR, at=at(4)))
    do(lambda s: s.cast_ballot(UID, "d1", Choice.ABSTAIN, at=at(4.5)))
    do(
        lambda s: s.enter_manually(
            UID, "d4", Choice.AGAINST, entered_by="Секретар", at=at(5), reason="пульт"
        )
    )
    do(lambda s: s.unregister("d3", at=at(6)))
    do(lambda s: s.close_vote(UID, at=at(7)))
    do(lambda s: s.prepare_vote(Question("2", "Друге"), at=at(8)))
    do(lambda s: s.cancel_vote("2024-09-04-2", reason="помилка", cancelled_by="Голова", at=at(9)))
    do(lambda s: s.prepare_vote(Question("3", "Третє"), at=at(10)))
    do(lambda s: s.mark_not_considered("2024-09-04-3", marked_by="Голова", at=at(11)))
    return state, events


def test_replaying_the_recorded_events_rebuilds_the_same_sitting():
    state, events = full_sitting_events()
    assert replay(events) == state


def test_events_round_trip_through_plain_dicts():
    _, events = full_sitting_events()
    dicts = [event_to_dict(e) for e in events]
    assert [event_from_dict(d) for d in dicts] == events
    assert dicts[6] == {
        "kind": "vote_opened",
        "vote_uid": UID,
        "at": "2024-09-04T07:00:03.000Z",
        "quorum_override_by": None,
    }
    assert dicts[7]["choice"] == "За"


def test_event_from_dict_refuses_unknown_kinds_and_fields():
    with pytest.raises(ValueError):
        event_from_dict({"kind": "nonsense", "at": "2024-09-04T07:00:00.000Z"})
    with pytest.raises(ValueError):
        event_from_dict(
            {"kind": "registered", "voter_id": "d1", "at": "2024-09-04T07:00:00.000Z", "x": 1}
        )


def test_replay_refuses_a_log_that_breaks_the_rules_and_names_the_event():
    _, events = full_sitting_events()
    forged = events[:8] + [BallotCast(vote_uid=UID, voter_id="d99", choice=Choice.FOR, at=at(5))]
    with pytest.raises(ReplayError) as info:
        replay(forged)
    assert info.value.index == 8 and info.value.refusal.code is RefusalCode.UNKNOWN_VOTER
    with pytest.raises(ReplayError) as info:
        replay(events[1:])
    assert info.value.index == 0 and info.value.refusal.code is RefusalCode.SITTING_NOT_STARTED
    with pytest.raises(ReplayError):
        replay(events + [events[0]])
    with pytest.raises(ReplayError):
        replay([])


# --- properties ---------------------------------------------------------------------------

# Which vote an action aims at: mostly the latest, sometimes an older one,
# sometimes one that does not exist.
VOTE = st.sampled_from([0, 0, 0, 0, 0, 1, 2, -1])
VOTER = st.integers(0, 14)
CHOICE = st.sampled_from(Choice)
IN_VOTE = st.one_of(
    st.tuples(st.just("ballot"), VOTER, CHOICE, VOTE),
    st.tuples(st.just("ballot"), VOTER, CHOICE, st.just(0)),
    st.tuples(st.just("manual"), VOTER, CHOICE, VOTE),
    st.tuples(st.just("register"), VOTER),
    st.tuples(st.just("unregister"), VOTER),
    st.tuples(st.just("close"), VOTE),
    st.tuples(st.just("open"), VOTE, st.booleans()),
    st.tuples(st.just("not_considered"), VOTE),
)
ENDING = st.sampled_from(
    [[("close", 0)], [("close", 0), ("close", 0)], [("cancel", 0)], [("close", 1)], []]
)


@st.composite
def rounds(draw):
    """One question's turn: prepare, maybe open (overriding the quorum or
    not), a burst of console and operator input, and an ending — with stray
    input aimed at other votes and unknown voters mixed in."""
    rule = draw(st.sampled_from(["total", "two_thirds", "registered"]))
    actions = [("prepare", draw(st.booleans()), rule)]
    if draw(st.integers(0, 9)) == 0:
        return actions + [("not_considered", 0)]
    actions.append(("open", 0, draw(st.booleans())))
    actions += draw(st.lists(IN_VOTE, max_size=20))
    # A wave of «За» from the first n seats, so that decisions do pass.
    actions += [("ballot", i, Choice.FOR, 0) for i in range(draw(st.integers(0, 14)))]
    actions += draw(st.lists(IN_VOTE, max_size=10))
    return actions + draw(ENDING)


ACTIONS = st.lists(rounds(), max_size=4).map(lambda rs: [a for r in rs for a in r])
RULES = {
    "total": Rule.majority_of_total(),
    "two_thirds": Rule.two_thirds_of_total(),
    "registered": Rule.majority_of_registered(),
}


@st.composite
def sittings(draw):
    seats = draw(st.integers(1, 12))
    deputies = draw(st.integers(0, seats))
    has_head = draw(st.booleans())
    head_in = has_head and draw(st.booleans())
    council = make_council(seats, deputies, head=has_head)
    voters = council.voters(head_takes_part=head_in)
    present = draw(st.sets(st.sampled_from([p.id for p in voters]))) if voters else set()
    return council, head_in, sorted(present)


def apply_action(state: SittingState, people: list[str], action: tuple, now: datetime):
    """One random input; returns what the command returns, or raises Refusal."""

    def uid(i: int) -> str:
        # i = 0 aims at the latest vote, 1 and 2 at older ones, -1 past the end.
        return f"2024-09-04-{len(state.votes) - i}"

    def voter(i: int) -> str:
        return people[i % len(people)]

    match action:
        case ("register", v):
            return state.register(voter(v), at=now)
        case ("unregister", v):
            return state.unregister(voter(v), at=now)
        case ("ballot", v, choice, i):
            return state.cast_ballot(uid(i), voter(v), choice, at=now)
        case ("manual", v, choice, i):
            return state.enter_manually(uid(i), voter(v), choice, entered_by="Секретар", at=now)
        case ("prepare", allow_change, rule):
            question = Question("1", "Питання", rule=RULES[rule])
            return state.prepare_vote(question, at=now, allow_change=allow_change)
        case ("open", i, override):
            chair = "Голова" if override else None
            return state.open_vote(uid(i), at=now, quorum_override_by=chair)
        case ("close", i):
            return state.close_vote(uid(i), at=now)
        case ("cancel", i):
            return state.cancel_vote(uid(i), reason="збій", cancelled_by="Голова", at=now)
        case ("not_considered", i):
            return state.mark_not_considered(uid(i), marked_by="Голова", at=now)
    raise AssertionError(action)


def run(council, head_in, present, actions):
    """Run random input through the sitting, like a hall full of consoles
    and an impatient chair. Returns the final state, the recorded events,
    the refusals seen, and the last accepted choice per (vote, voter)."""
    state, first = SittingState.start(council, Sitting(8, 45, DAY, head_in), at=T0)
    events = [first]
    for voter_id in present:
        state, event = state.register(voter_id, at=T0)
        events.append(event)
    refusals = []
    last_choice: dict[tuple[str, str], Choice] = {}
    # Besides the deputies: the head (even when not taking part) and two
    # ids that are nobody's.
    people = [p.id for p in council.deputies] + ["head", "stranger", "d99"]
    for step, action in enumerate(actions):
        before = repr(state)
        try:
            new_state, event = apply_action(state, people, action, at(step))
        except Refusal as refusal:
            # Refused input changes nothing.
            assert repr(state) == before
            refusals.append(refusal)
            continue
        if event is None:
            assert new_state is state  # closing a closed vote
            continue
        if isinstance(event, BallotCast | ManualEntry):
            last_choice[(event.vote_uid, event.voter_id)] = event.choice
        state = new_state
        events.append(event)
    return state, events, refusals, last_choice


PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(sittings(), ACTIONS)
def test_five_counts_always_add_up_to_deputies_plus_head_when_taking_part(sitting, actions):
    council, head_in, present = sitting
    state, _, _, _ = run(council, head_in, present, actions)
    expected = len(council.deputies) + (1 if head_in else 0)
    for vote in state.votes:
        if vote.status is VoteStatus.CLOSED:
            assert vote.tally.total == expected
            assert sorted(e.voter_id for e in vote.roll_call) == sorted(p.id for p in state.voters)
        if vote.status in (VoteStatus.OPEN, VoteStatus.PREPARED):
            assert len(state.roll_call(vote.uid)) == expected


@PROPERTY_SETTINGS
@given(sittings(), ACTIONS)
def test_one_ballot_per_deputy_per_vote_and_the_last_accepted_choice_counts(sitting, actions):
    council, head_in, present = sitting
    state, _, _, last_choice = run(council, head_in, present, actions)
    for vote in state.votes:
        voter_ids = [b.voter_id for b in vote.ballots]
        assert len(voter_ids) == len(set(voter_ids))
        for ballot in vote.ballots:
            assert last_choice[(vote.uid, ballot.voter_id)] is ballot.choice
        if vote.status is VoteStatus.CLOSED:
            for entry in vote.roll_call:
                choice = last_choice.get((vote.uid, entry.voter_id))
                if choice is not None:
                    assert entry.result.value == choice.value
                else:
                    assert entry.result in (Result.NOT_VOTING, Result.ABSENT)


@PROPERTY_SETTINGS
@given(sittings(), ACTIONS)
def test_closing_is_idempotent_and_adopted_iff_za_reaches_threshold(sitting, actions):
    council, head_in, present = sitting
    state, _, _, _ = run(council, head_in, present, actions)
    assert sum(v.status is VoteStatus.OPEN for v in state.votes) <= 1
    for vote in state.votes:
        if vote.status is VoteStatus.CLOSED:
            again, event = state.close_vote(vote.uid, at=at(10_000))
            assert event is None and again == state
            adopted = vote.tally.for_ >= vote.threshold
            assert vote.outcome is (Outcome.ADOPTED if adopted else Outcome.NOT_ADOPTED)
            assert vote.threshold >= 1


@PROPERTY_SETTINGS
@given(sittings(), ACTIONS)
def test_refused_input_changes_nothing_and_replay_rebuilds_the_state(sitting, actions):
    council, head_in, present = sitting
    state, events, refusals, _ = run(council, head_in, present, actions)
    # run() checked each refusal left the state as it was; the record holds
    # only accepted input, and replaying it (also through plain dicts, as
    # from SQLite) gives the same sitting.
    assert all(isinstance(r.code, RefusalCode) and r.message for r in refusals)
    assert replay(events) == state
    assert replay(event_from_dict(event_to_dict(e)) for e in events) == state


def test_majority_threshold_and_quorum_agree_with_the_words_more_than_half():
    for total in range(1, 200):
        needed = quorum_required(total)
        assert needed > Fraction(total, 2) >= needed - 1


def test_vote_opened_event_holds_only_inputs_not_derived_figures():
    # Derived figures are recomputed on replay, so a log cannot contradict itself.
    assert set(event_to_dict(VoteOpened(vote_uid=UID, at=T0))) == {
        "kind",
        "vote_uid",
        "at",
        "quorum_override_by",
    }
