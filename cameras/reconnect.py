"""When to try a camera again, and when a worker counts as hung. Pure functions.

Waits follow go2rtc's proven schedule, shortened at the top: 1 s for the
first five attempts (a camera rebooting, a switch flapping), 5 s for the next
five, 10 s for ten more, then `max_s` (60 s) for ever, a camera that never
came up included. Each wait gets ±20 % jitter so the cameras of a site that
went down together (a power cut) do not all knock at the same moment.
"""

from __future__ import annotations

import enum
import random

#: (attempts, wait) steps before the longest wait.
SCHEDULE: tuple[tuple[int, float], ...] = ((5, 1.0), (5, 5.0), (10, 10.0))
JITTER = 0.2
#: A connection that delivered packets at least this long resets the schedule.
STABLE_AFTER_S = 60.0
#: What a worker may take beyond its own deadlines before it is called hung.
GRACE_S = 5.0
#: A new worker process must say something within this (imports on a Pi are slow).
START_GRACE_S = 30.0


def reconnect_delay(attempt: int, max_s: float = 60.0, rng: random.Random | None = None) -> float:
    """Seconds to wait before connection attempt number `attempt` (1: the first retry)."""
    if attempt <= 0:
        return 0.0
    base = max_s
    left = attempt
    for count, wait in SCHEDULE:
        if left <= count:
            base = min(wait, max_s)
            break
        left -= count
    r = rng.random() if rng is not None else random.random()
    return base * (1 - JITTER + 2 * JITTER * r)


class WorkerState(enum.StrEnum):
    """What a worker process says it is doing."""

    STARTING = "starting"  # spawned, has not spoken yet
    CONNECTING = "connecting"
    STREAMING = "streaming"
    WAITING = "waiting"  # between attempts


def watchdog_deadline(state: WorkerState, since: float, *, last_packet: float | None, wait_s: float,
                      open_timeout_s: float, watchdog_s: float) -> float:
    """Monotonic time by which a healthy worker in `state` (entered at `since`) shows progress.

    Streaming: a packet within `watchdog_s` of the last one (the wall-clock
    age of the last packet is the only thing a hung library cannot fake).
    Connecting: the attempt's own timeout plus grace. Waiting: the wait plus
    grace. Past the deadline the supervisor kills the worker.
    """
    if state is WorkerState.STREAMING:
        return (last_packet if last_packet is not None else since) + watchdog_s
    if state is WorkerState.CONNECTING:
        # Opening includes probing the stream (up to one more read timeout).
        return since + 2 * open_timeout_s + GRACE_S
    if state is WorkerState.WAITING:
        return since + wait_s + GRACE_S
    return since + START_GRACE_S
