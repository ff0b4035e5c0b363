"""The audit hash chain over a sitting's events (voting.hall.audit): any edited,
removed, inserted or reordered stored event is found, and named."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from voting.hall.audit import GENESIS, canonical_json, chain, first_broken_link, link_hash
from voting.hall.events import event_to_dict
from voting.hall.model import Choice, Council, Person, Question, Sitting
from voting.hall.sitting import SittingState

T0 = datetime(2024, 9, 4, 7, 0, tzinfo=UTC)


def recorded_sitting() -> list[dict]:
    """Events of a short sitting as the service stores them: registration,
    open, ballots, manual entry, close, cancel."""
    council = Council(
        "Тестова сільська рада",
        "04360586",
        "UA32080030010083445",
        4,
        tuple(Person(f"d{i}", f"Депутат {i}") for i in range(1, 5)),
        Person("head", "Голова"),
    )
    state, first = SittingState.start(council, Sitting(8, 3, date(2024, 9, 4), True), at=T0)
    events = [first]

    def do(result):
        nonlocal state
        state, event = result
        events.append(event)

    for i, voter in enumerate(("d1", "d2", "d3", "head")):
        do(state.register(voter, at=T0 + timedelta(seconds=i)))
    do(state.prepare_vote(Question("1", "Про бюджет"), at=T0 + timedelta(seconds=10)))
    do(state.open_vote("2024-09-04-1", at=T0 + timedelta(seconds=11)))
    do(state.cast_ballot("2024-09-04-1", "d1", Choice.FOR, at=T0 + timedelta(seconds=12)))
    do(state.cast_ballot("2024-09-04-1", "d2", Choice.AGAINST, at=T0 + timedelta(seconds=13)))
    do(
        state.enter_manually(
            "2024-09-04-1", "d4", Choice.FOR, entered_by="Секретар", at=T0 + timedelta(seconds=14)
        )
    )
    do(state.close_vote("2024-09-04-1", at=T0 + timedelta(seconds=20)))
    do(state.prepare_vote(Question("2", "Друге"), at=T0 + timedelta(seconds=30)))
    do(
        state.cancel_vote(
            "2024-09-04-2", reason="помилка", cancelled_by="Голова", at=T0 + timedelta(seconds=31)
        )
    )
    return [event_to_dict(e) for e in events]


def stored(events: list[dict]) -> list[tuple[dict, str]]:
    return list(zip(events, chain(events), strict=True))


def test_canonical_json_sorts_keys_has_no_spaces_and_keeps_ukrainian_letters():
    assert canonical_json({"b": 1, "a": {"й": "Проти", "c": [True, None]}}) == (
        '{"a":{"c":[true,null],"й":"Проти"},"b":1}'
    )
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


@pytest.mark.parametrize(
    "bad", [{"x": 0.5}, {"x": float("nan")}, {1: "a"}, {"x": {1, 2}}, {"x": b"1"}]
)
def test_canonical_json_refuses_values_without_one_unambiguous_text(bad):
    with pytest.raises(TypeError):
        canonical_json(bad)


def test_link_is_sha256_of_previous_link_and_canonical_event():
    event = {"kind": "registered", "voter_id": "d1", "at": "2024-09-04T07:00:00.000Z"}
    text = '{"at":"2024-09-04T07:00:00.000Z","kind":"registered","voter_id":"d1"}'
    expected = hashlib.sha256((GENESIS + text).encode("utf-8")).hexdigest()
    assert link_hash(GENESIS, event) == expected
    assert chain([event, event]) == [expected, link_hash(expected, event)]


def test_an_untouched_record_verifies():
    assert first_broken_link(stored(recorded_sitting())) is None
    assert first_broken_link([]) is None


def test_an_edited_ballot_is_found_at_its_row():
    records = stored(recorded_sitting())
    index = next(
        i for i, (e, _) in enumerate(records) if e["kind"] == "ballot" and e["voter_id"] == "d2"
    )
    event, link = records[index]
    records[index] = ({**event, "choice": "За"}, link)
    assert first_broken_link(records) == index


def test_an_edited_stored_hash_is_found_at_its_row():
    records = stored(recorded_sitting())
    event, _ = records[3]
    records[3] = (event, "0" * 64)
    assert first_broken_link(records) == 3


def test_a_removed_row_is_found_where_the_gap_is():
    records = stored(recorded_sitting())
    del records[5]
    assert first_broken_link(records) == 5


def test_swapped_rows_are_found():
    records = stored(recorded_sitting())
    records[6], records[7] = records[7], records[6]
    assert first_broken_link(records) == 6


def test_a_forged_manual_entry_inserted_with_a_made_up_hash_is_found():
    events = recorded_sitting()
    records = stored(events)
    forged = {**events[9], "voter_id": "d3"}
    records.insert(10, (forged, link_hash(records[9][1], forged)))
    # The forger could make the inserted row fit, but not the row after it.
    assert first_broken_link(records) == 11


def test_an_event_that_cannot_be_encoded_is_a_broken_link():
    records = stored(recorded_sitting())
    event, link = records[2]
    records[2] = ({**event, "at": 1.5}, link)
    assert first_broken_link(records) == 2


def test_a_chain_can_continue_from_an_earlier_link():
    events = recorded_sitting()
    links = chain(events)
    assert chain(events[5:], prev_hash=links[4]) == links[5:]
    tail = list(zip(events[5:], links[5:], strict=True))
    assert first_broken_link(tail, prev_hash=links[4]) is None


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
EVENTS = st.lists(
    st.dictionaries(st.text(max_size=8), JSON_VALUES, min_size=1, max_size=4),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(events=EVENTS, data=st.data())
def test_the_first_tampered_row_is_the_one_named(events, data):
    records = stored(events)
    assert first_broken_link(records) is None
    index = data.draw(st.integers(0, len(records) - 1))
    event, link = records[index]
    tampered = {**event, "tampered": data.draw(JSON_VALUES)}
    assume(canonical_json(tampered) != canonical_json(event))
    records[index] = (tampered, link)
    assert first_broken_link(records) == index


def test_a_ballot_of_an_older_journal_reencodes_to_the_text_its_hash_was_made_of() -> None:
    # Journals written before ballots named their console: decoding and encoding again changes nothing.
    from voting.hall.audit import canonical_json
    from voting.hall.events import event_from_dict, event_to_dict
    old = {"kind": "ballot", "vote_uid": "2026-12-04-1", "voter_id": "d1", "choice": "За",
           "at": "2026-12-04T09:00:00.000Z"}
    assert canonical_json(event_to_dict(event_from_dict(old))) == canonical_json(old)
    new = {**old, "console": "nabc"}
    assert event_to_dict(event_from_dict(new)) == new
