"""Thresholds and quorum by the law, in exact integer arithmetic.

Law of Ukraine «Про місцеве самоврядування в Україні»:

- Art. 46: a plenary sitting is competent when **more than half** of the
  total composition (загальний склад ради) take part.
- Art. 59 part 2: an ordinary decision needs **more than half of the total
  composition** voting «за».
- Art. 59 part 4 and some statutes: **two thirds of the total composition**.
- The council's own rules (регламент) add procedural votes, e.g. more than
  half of those registered.

Every threshold here is "the smallest whole number of «За» that satisfies
the rule". All arithmetic is done with ``int`` and ``Fraction``: a float
would put 2/3 × 60 at 39.99999… on some day and cost the council a decision.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = [
    "RuleKind",
    "RuleBase",
    "Rule",
    "threshold",
    "more_than_half",
    "quorum_required",
    "has_quorum",
]


class RuleKind(enum.StrEnum):
    """The kinds of rule a question may be decided by."""

    MAJORITY_OF_TOTAL = "majority_of_total"
    """More than half of the total composition (Art. 59 part 2); the default."""
    TWO_THIRDS_OF_TOTAL = "two_thirds_of_total"
    """At least two thirds of the total composition (Art. 59 part 4)."""
    MAJORITY_OF_REGISTERED = "majority_of_registered"
    """More than half of those registered (procedural, by the регламент)."""
    CUSTOM = "custom"
    """A configured fraction of a configured base (by the регламент)."""


class RuleBase(enum.StrEnum):
    """What a rule's fraction is taken of."""

    TOTAL_COMPOSITION = "total_composition"
    """Seats set for the council (vacant ones too) + the head when taking part."""
    REGISTERED = "registered"
    """Those registered when the vote is opened."""


@dataclass(frozen=True, slots=True)
class Rule:
    """How many «За» a question needs: ``fraction`` of ``base``.

    ``strict`` True means "more than" (``За > fraction × base``), False means
    "not less than" (``За ≥ fraction × base``). Build the named rules with
    the class methods; the constructor is for configured (custom) rules and
    for decoding.
    """

    kind: RuleKind
    fraction: Fraction
    base: RuleBase
    strict: bool

    def __post_init__(self) -> None:
        # A rule is configuration: a wrong one must fail when it is made,
        # never later, at the moment a vote is counted.
        if not isinstance(self.fraction, Fraction):
            raise TypeError("fraction must be a fractions.Fraction (never a float)")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.strict and self.fraction == 1:
            raise ValueError("more than the whole base can never be reached")
        expected = _NAMED.get(self.kind)
        if expected is not None and (self.fraction, self.base, self.strict) != expected:
            raise ValueError(f"rule {self.kind} has fixed parameters {expected}")

    @classmethod
    def majority_of_total(cls) -> Rule:
        """More than half of the total composition: the law's default."""
        return cls(RuleKind.MAJORITY_OF_TOTAL, *_NAMED[RuleKind.MAJORITY_OF_TOTAL])

    @classmethod
    def two_thirds_of_total(cls) -> Rule:
        """At least two thirds of the total composition."""
        return cls(RuleKind.TWO_THIRDS_OF_TOTAL, *_NAMED[RuleKind.TWO_THIRDS_OF_TOTAL])

    @classmethod
    def majority_of_registered(cls) -> Rule:
        """More than half of those registered (procedural)."""
        return cls(
            RuleKind.MAJORITY_OF_REGISTERED, *_NAMED[RuleKind.MAJORITY_OF_REGISTERED]
        )

    @classmethod
    def custom(cls, fraction: Fraction, base: RuleBase, *, strict: bool) -> Rule:
        """A configured fraction of a configured base."""
        return cls(RuleKind.CUSTOM, fraction, base, strict)

    def describe(self) -> str:
        """The rule in Ukrainian, as the chair and the hall screen show it."""
        named = {
            RuleKind.MAJORITY_OF_TOTAL: "більшість від загального складу ради",
            RuleKind.TWO_THIRDS_OF_TOTAL: "дві третини від загального складу ради",
            RuleKind.MAJORITY_OF_REGISTERED: "більшість від зареєстрованих",
        }
        if self.kind in named:
            return named[self.kind]
        base = {
            RuleBase.TOTAL_COMPOSITION: "від загального складу ради",
            RuleBase.REGISTERED: "від зареєстрованих",
        }[self.base]
        how = "більше ніж" if self.strict else "не менше ніж"
        return f"{how} {self.fraction.numerator}/{self.fraction.denominator} {base}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form; the fraction as "p/q" text, never a float."""
        return {
            "kind": self.kind.value,
            "fraction": f"{self.fraction.numerator}/{self.fraction.denominator}",
            "base": self.base.value,
            "strict": self.strict,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        """Inverse of :meth:`to_dict`."""
        return cls(
            kind=RuleKind(data["kind"]),
            fraction=Fraction(str(data["fraction"])),
            base=RuleBase(data["base"]),
            strict=bool(data["strict"]),
        )


# The named rules' fixed (fraction, base, strict).
_NAMED: dict[RuleKind, tuple[Fraction, RuleBase, bool]] = {
    RuleKind.MAJORITY_OF_TOTAL: (Fraction(1, 2), RuleBase.TOTAL_COMPOSITION, True),
    RuleKind.TWO_THIRDS_OF_TOTAL: (Fraction(2, 3), RuleBase.TOTAL_COMPOSITION, False),
    RuleKind.MAJORITY_OF_REGISTERED: (Fraction(1, 2), RuleBase.REGISTERED, True),
}


def threshold(rule: Rule, *, total_composition: int, registered: int) -> int:
    """The smallest whole number of «За» that satisfies ``rule``.

    Never less than 1: a decision is never adopted with nobody voting «за»,
    even when a chair's quorum override leaves the registered base at zero.
    """
    if total_composition < 1:
        raise ValueError("total composition must be at least 1")
    if not 0 <= registered <= total_composition:
        raise ValueError("registered must be between 0 and the total composition")
    base = total_composition if rule.base is RuleBase.TOTAL_COMPOSITION else registered
    bound = rule.fraction * base
    # math.floor/ceil on a Fraction are exact integer operations.
    needed = math.floor(bound) + 1 if rule.strict else math.ceil(bound)
    return max(1, needed)


def more_than_half(n: int) -> int:
    """The smallest whole number that is more than half of ``n``."""
    return n // 2 + 1


def quorum_required(total_composition: int) -> int:
    """Registered needed for a competent sitting: more than half (Art. 46)."""
    return more_than_half(total_composition)


def has_quorum(*, registered: int, total_composition: int) -> bool:
    """True when more than half of the total composition is registered."""
    return registered >= quorum_required(total_composition)
