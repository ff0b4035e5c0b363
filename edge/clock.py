"""The time a node shows: now, corrected by the hub's clock, in the configured zone.

A board without a real-time clock may boot hours wrong before NTP, or
never reach NTP at all on an isolated LAN; the hub measures each node's
offset (``HubClient.clock_offset_s``). What a person sees — the hall
screen's clock, the calling screen, a camera card — is this corrected time,
in the ``[node] timezone`` (``Europe/Kyiv`` by default), never the board's
own zone (a board set up in UTC would show 08:00 for 10:00 in Kyiv).
Stored times stay UTC (:mod:`edge.timeutil`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Europe/Kyiv"


def zone(name: str) -> ZoneInfo:
    """The IANA zone of a name; :class:`ValueError` (with the name) when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. {DEFAULT_ZONE})") from None


class Clock:
    """Now, as a person at this node should see it."""

    def __init__(self, tz: tzinfo | str = DEFAULT_ZONE,
                 offset_s: Callable[[], float | None] = lambda: None,
                 source: Callable[[], float] = time.time) -> None:
        self.tz = zone(tz) if isinstance(tz, str) else tz
        self._offset_s = offset_s
        self._source = source

    def time(self) -> float:
        """Unix time, corrected by the hub's measured offset when there is one."""
        return self._source() + (self._offset_s() or 0.0)

    def now(self) -> datetime:
        """The corrected time as an aware datetime in the configured zone."""
        return datetime.fromtimestamp(self.time(), self.tz)

    def local(self, ts: float) -> datetime:
        """A Unix time as an aware datetime in the configured zone."""
        return datetime.fromtimestamp(ts, self.tz)
