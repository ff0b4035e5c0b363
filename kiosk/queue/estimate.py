"""How long until a ticket is called: people ahead and a range of minutes.

The estimate is deliberately simple, so an administrator can explain it to a
resident: the work ahead is the sum, over the people ahead, of the average
of recent service times of *their* service; a visitor being served now
counts as half of one such service; the work is shared by the open windows
that may call the ticket; the range is that figure ± ``spread`` (25 % by
default), in whole minutes. With no open window that may call the ticket
(windows closed or paused, the whole queue paused) the estimate is «—».
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

NO_ESTIMATE = "—"


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    """People ahead of a ticket and, when some open window serves it, a time range."""

    people_ahead: int
    low_minutes: int | None = None
    high_minutes: int | None = None

    @property
    def available(self) -> bool:
        return self.low_minutes is not None

    @property
    def text(self) -> str:
        """«10–15 хв», or «—» when no open window serves the ticket."""
        if self.low_minutes is None:
            return NO_ESTIMATE
        return f"{self.low_minutes}–{self.high_minutes} хв"


def rolling_mean_minutes(samples: Sequence[float], fallback_minutes: float) -> float:
    """Mean of recent service times (seconds) in minutes; ``fallback_minutes`` when none yet."""
    if not samples:
        return fallback_minutes
    return sum(samples) / len(samples) / 60


def estimate_wait(
    ahead: Sequence[str],
    being_served: Sequence[str],
    open_windows: int,
    mean_minutes: Callable[[str], float],
    spread: float,
) -> WaitEstimate:
    """Estimate from the services of the people ahead and of those being served now.

    ``ahead`` and ``being_served`` are service ids; ``open_windows`` is how many
    open windows may call the ticket.
    """
    if open_windows <= 0:
        return WaitEstimate(len(ahead))
    work = sum(mean_minutes(s) for s in ahead) + sum(mean_minutes(s) for s in being_served) / 2
    expected = work / open_windows
    low = math.floor(expected * (1 - spread))
    high = max(math.ceil(expected * (1 + spread)), low + 1)
    return WaitEstimate(len(ahead), low, high)
