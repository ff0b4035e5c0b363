"""Stream-level measures of one camera, from the arrival times of its packets.

The relay's reader calls `PacketLog.record` for every video packet with the
monotonic time it arrived; the health check asks `PacketLog.measure` once a
second. No clock is read here: every time is passed in, in seconds of one
monotonic clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamMeasures:
    """How the packets of one camera are flowing at one moment.

    `last_packet_age_s` counts from the last packet, or from when watching
    started if no packet ever came (a camera that never came up is as
    offline as one that died). `fps` is None until a whole `fps_window_s`
    has been watched since the first packet. `stalls` counts gaps longer than
    the stall gap within the stall window, including one in progress.
    """

    connected: bool
    last_packet_age_s: float
    fps: float | None
    stalls: int
    stall_in_progress: bool


def stall_gap_s(
    expected_fps: float | None, *, min_gap_s: float = 2.0, frames: float = 2.0
) -> float:
    """A gap between packets longer than this is a stall: max(2 frame intervals, 2 s)."""
    if expected_fps is None or expected_fps <= 0:
        return min_gap_s
    return max(frames / expected_fps, min_gap_s)


class PacketLog:
    """Recent packet arrival times and stalls of one camera.

    A small stateful accumulator (fed ~25 times a second, so it keeps deques
    rather than copying immutable tuples); it reads no clock and does no I/O.
    Not thread-safe: feed and measure it from one thread, or under one lock.
    """

    def __init__(
        self,
        started_at: float,
        *,
        stall_gap_s: float,
        fps_window_s: float = 10.0,
        stall_window_s: float = 3600.0,
    ) -> None:
        if stall_gap_s <= 0 or fps_window_s <= 0 or stall_window_s <= 0:
            raise ValueError("stall gap and windows must be positive")
        self.started_at = started_at
        self.stall_gap_s = stall_gap_s
        self.fps_window_s = fps_window_s
        self.stall_window_s = stall_window_s
        self._recent: deque[float] = deque()
        self._stall_ends: deque[float] = deque()
        self._first: float | None = None
        self._last: float | None = None

    def record(self, at: float) -> None:
        """Note one video packet that arrived at monotonic time `at`."""
        if self._last is not None:
            # Times from two threads may interleave slightly out of order;
            # never let that look like time running backwards.
            at = max(at, self._last)
            if at - self._last > self.stall_gap_s:
                # Dated by its end, so a long outage still counts for a
                # whole stall window after the camera came back.
                self._stall_ends.append(at)
        else:
            self._first = at
        self._last = at
        self._recent.append(at)
        self._forget(at)

    @property
    def silent_since(self) -> float:
        """The last packet's time, or when watching started if none came."""
        return self._last if self._last is not None else self.started_at

    def measure(self, at: float, *, connected: bool) -> StreamMeasures:
        """The stream's state at monotonic time `at`."""
        self._forget(at)
        since = self._last if self._last is not None else self.started_at
        age = max(0.0, at - since)
        in_progress = age > self.stall_gap_s
        watched_whole_window = self._first is not None and at - self._first >= self.fps_window_s
        fps = len(self._recent) / self.fps_window_s if watched_whole_window else None
        return StreamMeasures(
            connected=connected,
            last_packet_age_s=age,
            fps=fps,
            stalls=len(self._stall_ends) + (1 if in_progress else 0),
            stall_in_progress=in_progress,
        )

    def _forget(self, at: float) -> None:
        while self._recent and self._recent[0] <= at - self.fps_window_s:
            self._recent.popleft()
        while self._stall_ends and self._stall_ends[0] <= at - self.stall_window_s:
            self._stall_ends.popleft()
