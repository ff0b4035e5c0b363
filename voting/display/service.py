"""The `hall-display` role: the session hall's big screen, a client of the hall.

The role is a :class:`edge.screenclient.ScreenClient`: one sealed WebSocket
to the hall at :data:`voting.protocol.SCREEN_PATH` and the last snapshot it
sent. pygame blocks, so drawing runs in :class:`ScreenWorker`, its own thread,
fed through a thread-safe queue; the asyncio side never waits for a frame.
This module says what is the hall's own: which snapshots can be shown, the
hall's clock for the countdown, the names of the PNGs. :mod:`voting.display.role`
wires it.

Without a display (no X, Wayland or KMS, or ``SDL_VIDEODRIVER=dummy``) the
screen runs headless and, with ``png_dir`` set, leaves PNG pictures of what
it would show: for the demo, for the minutes and for the tests.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edge.clock import Clock
from edge.screen import ScreenThread
from edge.screenclient import ScreenClient
from voting.display.screen import STATES, Frame, render_frame, screen_state
from voting.display.settings import ROLE, HallDisplaySettings
from voting.protocol import SCREEN_PATH


def snapshot_problem(message: dict[str, Any]) -> str | None:
    """Why a hall snapshot cannot be shown, or None. A bad one changes nothing on screen."""
    if message.get("type") != "hall":
        return f"not a hall snapshot (type {message.get('type')!r})"
    state = message.get("state")
    if state not in STATES:
        return f"unknown state {state!r}"
    for key in ("registered", "total_composition", "quorum_required"):
        if not isinstance(message.get(key), int) or isinstance(message.get(key), bool):
            return f"{key} must be a whole number"
    needs = {"vote_open": "vote", "result": "result", "cancelled": "cancelled"}.get(str(state))
    if needs and not isinstance(message.get(needs), dict):
        return f"state {state} needs {needs!r}"
    if state == "result" and not isinstance(message["result"].get("roll_call", []), list):
        return "result.roll_call must be a list"
    return None


@dataclass(frozen=True, slots=True)
class ScreenUpdate:
    """What the screen should show now, as the asyncio side knows it."""

    snapshot: dict[str, Any] | None
    connected: bool
    received: float  # time.monotonic() when the snapshot arrived (for the countdown)


def hall_now(snapshot: dict[str, Any] | None, received: float, now_mono: float) -> datetime | None:
    """The hall's clock now: the snapshot's ``at`` plus the time since it came.

    Boards have no real-time clock, so the countdown never compares the
    hall's time with this board's own.
    """
    try:
        at = datetime.fromisoformat(str((snapshot or {})["at"]))
    except (KeyError, ValueError):
        return None
    return at + timedelta(seconds=max(0.0, now_mono - received))


def _screen_key(update: ScreenUpdate) -> tuple[str, str]:
    """What is shown, apart from counts and clocks: the state and the question's uid."""
    snap = update.snapshot or {}
    state = screen_state(update.snapshot, update.connected)
    item = {"vote_open": snap.get("vote"), "result": snap.get("result"), "cancelled": snap.get("cancelled")}
    return state, str((item.get(state) or {}).get("uid", ""))


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80] or "_"


class ScreenWorker(ScreenThread[ScreenUpdate]):
    """The hall screen's drawing thread (see ``edge.screen``): every result also gets its own PNG."""

    caption = "Зал засідань / Session hall"

    def __init__(self, size: tuple[int, int], fullscreen: bool, png_dir: Path | None,
                 clock: Clock | None = None) -> None:
        super().__init__("hall-display-screen", size, fullscreen, png_dir,
                         ScreenUpdate(None, False, time.monotonic()), clock)

    def render(self, update: ScreenUpdate, size: tuple[int, int]) -> Frame:
        now_text = self.clock.now().strftime("%H:%M:%S")
        return render_frame(update.snapshot, size, update.connected, now_text,
                            hall_now(update.snapshot, update.received, time.monotonic()))

    def key(self, update: ScreenUpdate) -> tuple[str, str]:
        return _screen_key(update)

    def png_names(self, update: ScreenUpdate, key: tuple[str, str], changed: bool) -> list[str]:
        state, uid = key
        names = []
        if changed:
            snap = update.snapshot or {}
            stamp = self.clock.now().strftime("%Y%m%dT%H%M%S")
            seq = f"{int(snap.get('seq') or 0):06d}" if snap else ""
            names.append("-".join(p for p in (stamp, seq, state, _safe(uid) if uid else "") if p) + ".png")
        if state == "result" and uid:
            names.append(f"result-{_safe(uid)}.png")  # for the minutes
        return names


class HallDisplay(ScreenClient[ScreenUpdate]):
    """The role: one socket to the hall, the last snapshot, and the screen thread."""

    name = ROLE
    peer = "hall"
    message_type = "hall"
    item = "snapshot"
    path = SCREEN_PATH
    screen_type = ScreenWorker
    settings: HallDisplaySettings

    @property
    def snapshot(self) -> dict[str, Any] | None:
        """The hall's last snapshot while the link is up."""
        return self.latest

    def problem(self, message: dict[str, Any]) -> str | None:
        return snapshot_problem(message)

    def update(self) -> ScreenUpdate:
        return ScreenUpdate(self.latest, self.connected, time.monotonic())
