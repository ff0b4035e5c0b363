"""Spoken calls in Ukrainian as a sequence of word tokens.

:mod:`kiosk.voice` maps each token to an audio clip (generated once with
espeak-ng) and stitches them, so a call works fully offline; the thread that
plays them is :class:`edge.speech.SpeechThread`. This module only decides
the words. ``PAUSE`` («,») is a short silence.

Grammar, decided once:

* «Талон А сорок два, вікно номер три». The ticket number and the window
  number are *names*, not counts, so they are cardinals in the nominative,
  in the masculine (counting) form: «А один», «А два», «вікно номер один»,
  «вікно номер двадцять два». A leading zero of the printed «А042» is not
  spoken. We say «вікно номер три», not the ordinal «третє вікно», so the
  numeral never has to agree with «вікно» and one clip per word suffices.
* The letter is spoken by its name in the alphabet (Правопис 2019, § 4):
  «а», «бе», «ве», «ге», «ґе», «де», ... «ел», «ем», «ен», ... «йот».
* Counts that agree with a noun («одна хвилина», «дві хвилини», «п'ять
  хвилин», «одне вікно»): the last word of the numeral takes the noun's
  gender (один/одна/одне, два/дві), and the noun takes the nominative
  singular after 1, the nominative plural after 2–4, the genitive plural
  otherwise, with 11–14 always genitive plural. Every phrase we speak puts
  the numeral in the nominative, so oblique cases of numerals are not needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge.uk import plural
from kiosk.errors import ErrorCode, QueueError

PAUSE = ","


class Gender(StrEnum):
    MASCULINE = "m"
    FEMININE = "f"
    NEUTER = "n"


LETTER_NAMES: dict[str, str] = {
    "А": "а", "Б": "бе", "В": "ве", "Г": "ге", "Ґ": "ґе", "Д": "де", "Е": "е", "Є": "є",
    "Ж": "же", "З": "зе", "И": "и", "І": "і", "Ї": "ї", "Й": "йот", "К": "ка", "Л": "ел",
    "М": "ем", "Н": "ен", "О": "о", "П": "пе", "Р": "ер", "С": "ес", "Т": "те", "У": "у",
    "Ф": "еф", "Х": "ха", "Ц": "це", "Ч": "че", "Ш": "ша", "Щ": "ща", "Ь": "м'який знак",
    "Ю": "ю", "Я": "я",
}  # fmt: skip

_UNITS = ("", "один", "два", "три", "чотири", "п'ять", "шість", "сім", "вісім", "дев'ять")
_TEENS = (
    "десять", "одинадцять", "дванадцять", "тринадцять", "чотирнадцять",
    "п'ятнадцять", "шістнадцять", "сімнадцять", "вісімнадцять", "дев'ятнадцять",
)  # fmt: skip
_TENS = ("", "", "двадцять", "тридцять", "сорок", "п'ятдесят", "шістдесят", "сімдесят",
         "вісімдесят", "дев'яносто")  # fmt: skip
_HUNDREDS = ("", "сто", "двісті", "триста", "чотириста", "п'ятсот", "шістсот", "сімсот",
             "вісімсот", "дев'ятсот")  # fmt: skip
_GENDERED = {
    (1, Gender.FEMININE): "одна",
    (1, Gender.NEUTER): "одне",
    (2, Gender.FEMININE): "дві",
}


def cardinal(n: int, gender: Gender = Gender.MASCULINE) -> list[str]:
    """The words of ``n`` (0–999), nominative, the last word agreeing with ``gender``."""
    if not 0 <= n <= 999:
        raise QueueError(
            ErrorCode.NUMBER_OUT_OF_RANGE, f"Число {n} поза межами 0–999.", number=n
        )
    if n == 0:
        return ["нуль"]
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(_HUNDREDS[hundreds])
    tens, units = divmod(rest, 10)
    if tens == 1:
        words.append(_TEENS[units])
        return words
    if tens:
        words.append(_TENS[tens])
    if units:
        words.append(_GENDERED.get((units, gender), _UNITS[units]))
    return words


@dataclass(frozen=True, slots=True)
class Noun:
    """A noun in the three forms a count needs, and its gender."""

    one: str  # nominative singular: одна хвилина
    few: str  # nominative plural: дві хвилини
    many: str  # genitive plural: п'ять хвилин
    gender: Gender

    def form(self, n: int) -> str:
        return plural(n, self.one, self.few, self.many)


MINUTE = Noun("хвилина", "хвилини", "хвилин", Gender.FEMININE)
PERSON = Noun("особа", "особи", "осіб", Gender.FEMININE)
WINDOW = Noun("вікно", "вікна", "вікон", Gender.NEUTER)
TICKET = Noun("талон", "талони", "талонів", Gender.MASCULINE)


def count(n: int, noun: Noun) -> list[str]:
    """«двадцять одна хвилина», «три особи», «одинадцять вікон»."""
    return [*cardinal(n, noun.gender), noun.form(n)]


def letter_name(letter: str) -> str:
    """The spoken name of a Ukrainian capital letter: «Л» → «ел»."""
    try:
        return LETTER_NAMES[letter.upper()]
    except KeyError:
        raise QueueError(
            ErrorCode.PREFIX_INVALID, f"Літеру «{letter}» не вміємо вимовити.", letter=letter
        ) from None


def ticket_words(label: str) -> list[str]:
    """«А042» → ["а", "сорок", "два"]: the letter's name, then the number without leading zeros."""
    prefix, digits = label[:1], label[1:]
    if not digits.isdecimal() or not 1 <= int(digits) <= 999:
        raise QueueError(
            ErrorCode.NUMBER_OUT_OF_RANGE, f"Номер талона «{label}» має бути від 1 до 999.", label=label
        )
    return [letter_name(prefix), *cardinal(int(digits))]


def call_tokens(label: str, window: int, *, repeat: bool = False) -> list[str]:
    """The spoken call: ["талон", "а", "сорок", "два", ",", "вікно", "номер", "три"].

    ``repeat`` (a recall) starts with «повторний виклик».
    """
    if not 1 <= window <= 999:
        raise QueueError(
            ErrorCode.NUMBER_OUT_OF_RANGE, f"Номер вікна {window} має бути від 1 до 999.", window=window
        )
    head = ["повторний", "виклик", PAUSE] if repeat else []
    return [*head, "талон", *ticket_words(label), PAUSE, "вікно", "номер", *cardinal(window)]


def wait_tokens(people_ahead: int, low_minutes: int | None, high_minutes: int | None) -> list[str]:
    """What the kiosk says after issuing a ticket (for visitors who cannot see the screen).

    «очікування від десяти до п'ятнадцяти хвилин» would need the genitive of
    numerals, so the range is said as «орієнтовно десять, п'ятнадцять хвилин»
    (or «не більше ніж п'ять хвилин»), keeping every numeral in the nominative.
    """
    words = ["перед", "вами", *(count(people_ahead, PERSON) if people_ahead else ["нікого"])]
    if low_minutes is None or high_minutes is None:
        return [*words, PAUSE, "час", "очікування", "невідомий"]
    if low_minutes == 0:
        return [*words, PAUSE, "не", "більше", "ніж", *count(high_minutes, MINUTE)]
    return [*words, PAUSE, "орієнтовно", *cardinal(low_minutes, Gender.FEMININE), PAUSE,
            *count(high_minutes, MINUTE)]  # fmt: skip


def vocabulary() -> frozenset[str]:
    """Every token this module can produce: the clip library must hold one clip for each."""
    words = {PAUSE, "талон", "вікно", "номер", "повторний", "виклик", "перед", "вами", "нікого",
             "час", "очікування", "невідомий", "не", "більше", "ніж", "орієнтовно", "нуль"}  # fmt: skip
    words |= set(LETTER_NAMES.values()) | set(_GENDERED.values())
    words |= {w for group in (_UNITS, _TEENS, _TENS, _HUNDREDS) for w in group if w}
    words |= {form for noun in (MINUTE, PERSON, WINDOW, TICKET) for form in (noun.one, noun.few, noun.many)}
    return frozenset(words)


def say(tokens: list[str]) -> str:
    """The tokens as text (for logs, subtitles and tests): «талон а сорок два, вікно номер три»."""
    return " ".join(tokens).replace(f" {PAUSE}", PAUSE)
