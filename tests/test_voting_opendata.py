"""Roll-call results as open data: motions.csv, votings.csv and JSON, exactly
in the format of the mandatory dataset (voting.hall.opendata)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voting.hall.model import Choice, Council, Person, Question, Sitting
from voting.hall.opendata import (
    MOTION_COLUMNS,
    VOTING_COLUMNS,
    motion_row,
    motions_csv,
    roll_call_document,
    voting_rows,
    votings_csv,
)
from voting.rules import Rule
from voting.hall.sitting import SittingState

T0 = datetime(2024, 9, 4, 7, 0, tzinfo=UTC)
SITTING = Sitting(convocation=8, session=45, date=date(2024, 9, 4), head_takes_part=True)
COUNCIL = Council(
    name="Бучанська міська рада",
    edrpou="04360586",
    katottg="UA32080030010083445",
    seats=8,
    deputies=(
        Person("dep-1", "Іваненко Олена Петрівна"),
        Person("dep-2", "Петренко Іван Іванович"),
        Person("dep-3", "Шевчук Ґанна Юріївна"),
        Person("dep-4", "Коваль Євген Олегович"),
        Person("dep-5", "Бондар Марія Степанівна"),
        Person("dep-6", "Ткаченко Юрій Васильович"),
        Person("dep-7", "Мельник Ірина Богданівна"),
    ),  # one seat vacant: total composition 8 + head = 9

    head=Person("head", "Федорук Анатолій Петрович"),
)
TITLE = 'Про бюджет громади на 2025 рік, зміни «до» "програми"\nз додатками'


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sitting_with_votes(council: Council = COUNCIL, sitting: Sitting = SITTING):
    """Four questions: adopted, not adopted, cancelled, not considered.
    Everyone but dep-7 is registered."""
    state, _ = SittingState.start(council, sitting, at=T0)
    for voter in ("dep-1", "dep-2", "dep-3", "dep-4", "dep-5", "dep-6", "head"):
        state, _ = state.register(voter, at=at(1))
    state, _ = state.prepare_vote(
        Question(
            "1",
            TITLE,
            "123-рд",
            Rule.majority_of_total(),
            "https://rada.example/p/123",
            "Текст рішення",
        ),
        at=at(2),
    )
    state, _ = state.open_vote("2024-09-04-1", at=at(3))
    for voter in ("dep-1", "dep-2", "dep-5", "dep-6", "head"):  # 5 of 9: adopted
        state, _ = state.cast_ballot("2024-09-04-1", voter, Choice.FOR, at=at(4))
    state, _ = state.enter_manually(
        "2024-09-04-1", "dep-4", Choice.AGAINST, entered_by="Секретар", at=at(5)
    )
    state, _ = state.close_vote("2024-09-04-1", at=at(6))

    question = Question("2", "Про перейменування вулиці", "124", Rule.two_thirds_of_total())
    state, _ = state.prepare_vote(question, at=at(7))
    state, _ = state.open_vote("2024-09-04-2", at=at(8))
    for voter in ("dep-1", "dep-2", "dep-3", "dep-4", "dep-5"):  # 5 < 6 of 9
        state, _ = state.cast_ballot("2024-09-04-2", voter, Choice.FOR, at=at(9))
    state, _ = state.cast_ballot("2024-09-04-2", "head", Choice.ABSTAIN, at=at(9))
    state, _ = state.close_vote("2024-09-04-2", at=at(10))

    state, _ = state.prepare_vote(Question("3", "Про оренду", "125"), at=at(11))
    state, _ = state.open_vote("2024-09-04-3", at=at(12))
    state, _ = state.cast_ballot("2024-09-04-3", "dep-1", Choice.FOR, at=at(13))
    state, _ = state.cancel_vote(
        "2024-09-04-3", reason="технічний збій", cancelled_by="Голова", at=at(14)
    )

    state, _ = state.prepare_vote(Question("4", "Різне"), at=at(15))
    state, _ = state.mark_not_considered("2024-09-04-4", marked_by="Голова", at=at(16))
    return state


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_columns_are_exactly_those_of_the_open_data_format():
    assert MOTION_COLUMNS == (
        "uid", "date", "authorityName", "authorityId", "authorityCattutc",
        "convocation", "legislativeSession", "number", "title", "projectNumber",
        "votingFor", "votingAgainst", "votingAbstain", "notVoting", "absent",
        "votingResult", "textUrl", "text",
    )  # fmt: skip
    assert VOTING_COLUMNS == ("motionUid", "voterId", "voterName", "motionTitle", "result")
    state = sitting_with_votes()
    assert motions_csv(COUNCIL, SITTING, state.votes).splitlines()[0] == ",".join(MOTION_COLUMNS)
    assert votings_csv(COUNCIL, state.votes).splitlines()[0] == ",".join(VOTING_COLUMNS)


def test_motion_row_of_an_adopted_decision():
    state = sitting_with_votes()
    row = parse(motions_csv(COUNCIL, SITTING, state.votes))[0]
    assert row == {
        "uid": "2024-09-04-1",
        "date": "2024-09-04",
        "authorityName": "Бучанська міська рада",
        "authorityId": "04360586",
        "authorityCattutc": "UA32080030010083445",
        "convocation": "8",
        "legislativeSession": "45",
        "number": "1",
        "title": TITLE,
        "projectNumber": "123-рд",
        "votingFor": "5",
        "votingAgainst": "1",
        "votingAbstain": "0",
        "notVoting": "1",
        "absent": "1",
        "votingResult": "Прийнято",
        "textUrl": "https://rada.example/p/123",
        "text": "Текст рішення",
    }


def test_motion_results_use_the_four_words_of_the_format():
    state = sitting_with_votes()
    results = [r["votingResult"] for r in parse(motions_csv(COUNCIL, SITTING, state.votes))]
    # 5 «За» of 9 (8 seats + head) is a majority (5) but not two thirds (6).
    assert results == ["Прийнято", "Не прийнято", "Не голосували", "Не розглядали"]


def test_cancelled_and_not_considered_questions_have_zero_counts_and_no_roll_call():
    state = sitting_with_votes()
    rows = parse(motions_csv(COUNCIL, SITTING, state.votes))[2:]
    counts = ("votingFor", "votingAgainst", "votingAbstain", "notVoting", "absent")
    assert all(row[c] == "0" for row in rows for c in counts)
    uids = {r["motionUid"] for r in parse(votings_csv(COUNCIL, state.votes))}
    assert uids == {"2024-09-04-1", "2024-09-04-2"}


def test_votings_has_one_row_per_voter_with_the_head_as_a_voter():
    state = sitting_with_votes()
    rows = parse(votings_csv(COUNCIL, state.votes))
    first = [r for r in rows if r["motionUid"] == "2024-09-04-1"]
    assert {r["motionTitle"] for r in first} == {TITLE}
    assert [(r["voterId"], r["voterName"], r["result"]) for r in first] == [
        ("dep-1", "Іваненко Олена Петрівна", "За"),
        ("dep-2", "Петренко Іван Іванович", "За"),
        ("dep-3", "Шевчук Ґанна Юріївна", "Не голосував"),
        ("dep-4", "Коваль Євген Олегович", "Проти"),
        ("dep-5", "Бондар Марія Степанівна", "За"),
        ("dep-6", "Ткаченко Юрій Васильович", "За"),
        ("dep-7", "Мельник Ірина Богданівна", "Відсутній"),
        ("head", "Федорук Анатолій Петрович", "За"),
    ]


def test_head_not_taking_part_does_not_appear_in_votings():
    sitting = Sitting(8, 45, date(2024, 9, 4), head_takes_part=False)
    state, _ = SittingState.start(COUNCIL, sitting, at=T0)
    for voter in ("dep-1", "dep-2", "dep-3", "dep-4", "dep-5", "dep-6"):
        state, _ = state.register(voter, at=at(1))
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    state, _ = state.open_vote("2024-09-04-1", at=at(3))
    state, _ = state.close_vote("2024-09-04-1", at=at(4))
    rows = parse(votings_csv(COUNCIL, state.votes))
    assert [r["voterId"] for r in rows] == [f"dep-{i}" for i in range(1, 8)]
    assert [r["result"] for r in rows] == ["Не голосував"] * 6 + ["Відсутній"]


def test_counts_in_motions_match_the_votings_rows():
    state = sitting_with_votes()
    votings = parse(votings_csv(COUNCIL, state.votes))
    words = {
        "votingFor": "За",
        "votingAgainst": "Проти",
        "votingAbstain": "Утримався",
        "notVoting": "Не голосував",
        "absent": "Відсутній",
    }
    for motion in parse(motions_csv(COUNCIL, SITTING, state.votes)):
        mine = [v["result"] for v in votings if v["motionUid"] == motion["uid"]]
        for column, word in words.items():
            assert int(motion[column]) == mine.count(word)


def test_csv_is_rfc4180_and_round_trips_ukrainian_text_through_utf8():
    state = sitting_with_votes()
    text = motions_csv(COUNCIL, SITTING, state.votes)
    assert text.endswith("\r\n")
    data = text.encode("utf-8")
    assert not data.startswith(b"\xef\xbb\xbf")  # no byte-order mark
    assert parse(data.decode("utf-8"))[0]["title"] == TITLE  # comma, quotes, newline kept
    assert "Ґанна" in votings_csv(COUNCIL, state.votes)


def test_json_document_holds_the_same_rows_with_numbers_as_numbers():
    state = sitting_with_votes()
    document = roll_call_document(COUNCIL, SITTING, state.votes)
    assert json.loads(json.dumps(document, ensure_ascii=False)) == document
    assert document["motions"][0]["votingFor"] == 5 and document["motions"][0]["convocation"] == 8
    as_text = [{k: str(v) for k, v in row.items()} for row in document["motions"]]
    assert as_text == parse(motions_csv(COUNCIL, SITTING, state.votes))
    assert document["votings"] == parse(votings_csv(COUNCIL, state.votes))
    assert all(list(row) == list(MOTION_COLUMNS) for row in document["motions"])


def test_an_unfinished_vote_is_never_published():
    state, _ = SittingState.start(COUNCIL, SITTING, at=T0)
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    with pytest.raises(ValueError):
        motion_row(COUNCIL, SITTING, state.votes[0])
    state, _ = state.open_vote("2024-09-04-1", at=at(3), quorum_override_by="Голова")
    with pytest.raises(ValueError):
        votings_csv(COUNCIL, state.votes)
    with pytest.raises(ValueError):
        voting_rows(COUNCIL, state.votes[0])


@settings(max_examples=60, deadline=None)
@given(
    choices=st.lists(st.sampled_from([*Choice, None]), min_size=8, max_size=8),
    present=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_every_closed_vote_publishes_one_row_per_voter_and_counts_that_add_up(choices, present):
    state, _ = SittingState.start(COUNCIL, SITTING, at=T0)
    voters = [p.id for p in state.voters]
    for voter, here in zip(voters, present, strict=True):
        if here:
            state, _ = state.register(voter, at=at(1))
    state, _ = state.prepare_vote(Question("1", "Питання"), at=at(2))
    state, _ = state.open_vote("2024-09-04-1", at=at(3), quorum_override_by="Голова")
    for voter, choice in zip(voters, choices, strict=True):
        if choice is not None:
            state, _ = state.enter_manually(
                "2024-09-04-1", voter, choice, entered_by="Секретар", at=at(4)
            )
    state, _ = state.close_vote("2024-09-04-1", at=at(5))
    (motion,) = roll_call_document(COUNCIL, SITTING, state.votes)["motions"]
    rows = voting_rows(COUNCIL, state.votes[0])
    assert [r["voterId"] for r in rows] == voters
    counts = ("votingFor", "votingAgainst", "votingAbstain", "notVoting", "absent")
    total = sum(motion[c] for c in counts)
    assert total == len(voters) == 8
