"""Ukrainian as people read it: plural forms of words after a number.

Ukrainian has three forms after a cardinal number: «1 питання / голос»,
«2 питання / голоси», «5 питань / голосів»; 11–14 take the third form
(«11 голосів»), 21, 31, … the first («21 голос»).
"""

from __future__ import annotations


def plural(n: int, one: str, few: str, many: str) -> str:
    """The form of a word after ``n``: 1 голос, 2 голоси, 5 голосів, 12 голосів, 21 голос."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def count(n: int, one: str, few: str, many: str) -> str:
    """``n`` and the word in its form: «3 голоси»."""
    return f"{n} {plural(n, one, few, many)}"
