"""Spoken calls in Ukrainian: numerals, letter names, agreement in gender and case."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.errors import ErrorCode, QueueError
from kiosk.queue.services import ALLOWED_PREFIXES, UKRAINIAN_CAPITALS
from kiosk.speech import (
    MINUTE,
    PAUSE,
    PERSON,
    TICKET,
    WINDOW,
    Gender,
    call_tokens,
    cardinal,
    count,
    letter_name,
    say,
    ticket_words,
    vocabulary,
    wait_tokens,
)

NUMBERS = [
    (1, "один"),
    (2, "два"),
    (3, "три"),
    (4, "чотири"),
    (5, "п'ять"),
    (7, "сім"),
    (8, "вісім"),
    (9, "дев'ять"),
    (10, "десять"),
    (11, "одинадцять"),
    (12, "дванадцять"),
    (13, "тринадцять"),
    (14, "чотирнадцять"),
    (15, "п'ятнадцять"),
    (16, "шістнадцять"),
    (17, "сімнадцять"),
    (18, "вісімнадцять"),
    (19, "дев'ятнадцять"),
    (20, "двадцять"),
    (21, "двадцять один"),
    (22, "двадцять два"),
    (30, "тридцять"),
    (40, "сорок"),
    (42, "сорок два"),
    (50, "п'ятдесят"),
    (60, "шістдесят"),
    (70, "сімдесят"),
    (80, "вісімдесят"),
    (90, "дев'яносто"),
    (99, "дев'яносто дев'ять"),
    (100, "сто"),
    (101, "сто один"),
    (110, "сто десять"),
    (111, "сто одинадцять"),
    (120, "сто двадцять"),
    (200, "двісті"),
    (202, "двісті два"),
    (300, "триста"),
    (400, "чотириста"),
    (500, "п'ятсот"),
    (600, "шістсот"),
    (700, "сімсот"),
    (800, "вісімсот"),
    (900, "дев'ятсот"),
    (915, "дев'ятсот п'ятнадцять"),
    (999, "дев'ятсот дев'яносто дев'ять"),
]


@pytest.mark.parametrize(("n", "words"), NUMBERS)
def test_ticket_and_window_numbers_are_cardinals_in_the_nominative(n: int, words: str) -> None:
    assert " ".join(cardinal(n)) == words


def test_the_spoken_call_names_the_letter_the_number_and_the_window() -> None:
    assert call_tokens("А042", 3) == ["талон", "а", "сорок", "два", PAUSE, "вікно", "номер", "три"]
    assert say(call_tokens("А042", 3)) == "талон а сорок два, вікно номер три"


@pytest.mark.parametrize(
    ("label", "window", "spoken"),
    [
        ("А001", 1, "талон а один, вікно номер один"),  # no «нуль нуль» for the leading zeros
        ("П002", 2, "талон пе два, вікно номер два"),  # «номер» + masculine counting form, not «дві»
        ("К100", 12, "талон ка сто, вікно номер дванадцять"),
        ("Л711", 21, "талон ел сімсот одинадцять, вікно номер двадцять один"),
        ("Й999", 100, "талон йот дев'ятсот дев'яносто дев'ять, вікно номер сто"),
    ],
)
def test_spoken_calls_for_sample_tickets(label: str, window: int, spoken: str) -> None:
    assert say(call_tokens(label, window)) == spoken


def test_a_recall_is_announced_as_a_repeated_call() -> None:
    assert say(call_tokens("А042", 3, repeat=True)) == "повторний виклик, талон а сорок два, вікно номер три"


@pytest.mark.parametrize(
    ("letter", "name"),
    [("А", "а"), ("Г", "ге"), ("Ґ", "ґе"), ("Е", "е"), ("Є", "є"), ("И", "и"), ("Й", "йот"),
     ("Л", "ел"), ("М", "ем"), ("Н", "ен"), ("Р", "ер"), ("С", "ес"), ("Ф", "еф"), ("Х", "ха"),
     ("Ц", "це"), ("Ш", "ша"), ("Щ", "ща"), ("Ю", "ю"), ("Я", "я")],
)  # fmt: skip
def test_letters_are_spoken_by_their_names_in_the_alphabet(letter: str, name: str) -> None:
    assert letter_name(letter) == name


def test_every_ukrainian_letter_has_a_spoken_name() -> None:
    assert all(letter_name(c) for c in UKRAINIAN_CAPITALS)
    assert len(UKRAINIAN_CAPITALS) == 33


@pytest.mark.parametrize(
    ("n", "noun", "words"),
    [
        (1, MINUTE, "одна хвилина"),
        (2, MINUTE, "дві хвилини"),
        (4, MINUTE, "чотири хвилини"),
        (5, MINUTE, "п'ять хвилин"),
        (11, MINUTE, "одинадцять хвилин"),
        (12, MINUTE, "дванадцять хвилин"),
        (14, MINUTE, "чотирнадцять хвилин"),
        (21, MINUTE, "двадцять одна хвилина"),
        (22, MINUTE, "двадцять дві хвилини"),
        (25, MINUTE, "двадцять п'ять хвилин"),
        (101, MINUTE, "сто одна хвилина"),
        (111, MINUTE, "сто одинадцять хвилин"),
        (112, MINUTE, "сто дванадцять хвилин"),
        (0, MINUTE, "нуль хвилин"),
        (1, WINDOW, "одне вікно"),
        (2, WINDOW, "два вікна"),
        (5, WINDOW, "п'ять вікон"),
        (1, TICKET, "один талон"),
        (3, TICKET, "три талони"),
        (20, TICKET, "двадцять талонів"),
        (1, PERSON, "одна особа"),
        (3, PERSON, "три особи"),
        (7, PERSON, "сім осіб"),
    ],
)
def test_counted_nouns_agree_with_the_numeral_in_gender_and_case(n: int, noun, words: str) -> None:
    assert " ".join(count(n, noun)) == words


def test_only_one_and_two_change_with_gender() -> None:
    assert cardinal(31, Gender.NEUTER) == ["тридцять", "одне"]
    assert cardinal(32, Gender.FEMININE) == ["тридцять", "дві"]
    assert cardinal(32, Gender.NEUTER) == ["тридцять", "два"]
    assert cardinal(33, Gender.FEMININE) == ["тридцять", "три"]


def test_the_kiosk_speaks_people_ahead_and_the_wait() -> None:
    assert say(wait_tokens(3, 10, 15)) == "перед вами три особи, орієнтовно десять, п'ятнадцять хвилин"
    assert say(wait_tokens(1, 1, 2)) == "перед вами одна особа, орієнтовно одна, дві хвилини"
    assert say(wait_tokens(0, 0, 1)) == "перед вами нікого, не більше ніж одна хвилина"
    assert say(wait_tokens(5, None, None)) == "перед вами п'ять осіб, час очікування невідомий"


@pytest.mark.parametrize("label", ["А000", "А1000", "А", "АБВ", "1042"])
def test_a_ticket_number_outside_1_to_999_cannot_be_spoken(label: str) -> None:
    with pytest.raises(QueueError) as caught:
        ticket_words(label)
    assert caught.value.code in (ErrorCode.NUMBER_OUT_OF_RANGE, ErrorCode.PREFIX_INVALID)


@pytest.mark.parametrize("window", [0, 1000, -3])
def test_a_window_number_outside_1_to_999_cannot_be_spoken(window: int) -> None:
    with pytest.raises(QueueError) as caught:
        call_tokens("А001", window)
    assert caught.value.code is ErrorCode.NUMBER_OUT_OF_RANGE


def test_distinct_numbers_never_sound_the_same() -> None:
    spoken = {tuple(cardinal(n)) for n in range(1, 1000)}
    assert len(spoken) == 999
    assert all(1 <= len(words) <= 3 for words in spoken)


@given(
    prefix=st.sampled_from(ALLOWED_PREFIXES),
    number=st.integers(1, 999),
    window=st.integers(1, 999),
    repeat=st.booleans(),
)
def test_every_call_is_made_of_clips_in_the_vocabulary(prefix: str, number: int, window: int, repeat: bool) -> None:
    tokens = call_tokens(f"{prefix}{number:03d}", window, repeat=repeat)
    assert set(tokens) <= vocabulary()
    assert tokens.count("талон") == 1 and tokens[-len(cardinal(window)):] == cardinal(window)


@given(people=st.integers(0, 999), low=st.integers(0, 998))
def test_every_wait_phrase_is_made_of_clips_in_the_vocabulary(people: int, low: int) -> None:
    assert set(wait_tokens(people, low, low + 1)) <= vocabulary()
