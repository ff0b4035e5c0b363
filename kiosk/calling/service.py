"""The `queue-display` role: the ЦНАП hall's calling screen with spoken calls, a client of the queue.

The role is a :class:`edge.screenclient.ScreenClient`: one sealed WebSocket
to the queue at :data:`kiosk.protocol.SCREEN_PATH` and the last board it
sent. pygame blocks, so drawing runs in :class:`CallingScreen`, its own
thread; speaking runs in :class:`~kiosk.calling.announcer.Announcer`,
another. The asyncio side only hands them what arrived. This module says what
is the calling screen's own: which boards can be shown, which calls are new,
the names of the PNGs. :mod:`kiosk.calling.role` wires it.

Without a display (``SDL_VIDEODRIVER=dummy``, or none found) the screen runs
headless and, with ``png_dir`` set, leaves PNG pictures of what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from edge.clock import Clock
from edge.identity import Identity
from edge.peers import KeyLookup
from edge.screen import ScreenThread
from edge.screenclient import ScreenClient
from kiosk.calling.announcer import Announcer, CallTracker
from kiosk.calling.screen import Frame, render_frame, screen_state
from kiosk.calling.settings import ROLE, CallingSettings
from kiosk.protocol import BOARD, SCREEN_PATH


def board_problem(message: dict[str, Any]) -> str | None:
    """Why a board cannot be shown, or None. A bad one changes nothing on screen."""
    if message.get("type") != BOARD:
        return f"not a board (type {message.get('type')!r})"
    if not isinstance(message.get("calls"), list):
        return "calls must be a list"
    for call in message["calls"]:
        if not isinstance(call, dict) or not isinstance(call.get("label"), str) or not isinstance(call.get("window"), int):
            return "each call needs a label and a window number"
    if message.get("pause") is not None and not isinstance(message.get("pause"), dict):
        return "pause must be an object or null"
    return None


@dataclass(frozen=True, slots=True)
class ScreenUpdate:
    board: dict[str, Any] | None
    connected: bool


def _shown_key(update: ScreenUpdate) -> tuple[Any, ...]:
    """What is shown apart from the clock: the state, the newest call, the pause."""
    board = update.board or {}
    calls = board.get("calls") or []
    newest = calls[0] if calls else {}
    return (screen_state(update.board, update.connected), newest.get("label"), newest.get("window"),
            newest.get("at"), bool(board.get("pause")))


class CallingScreen(ScreenThread[ScreenUpdate]):
    """The calling screen's drawing thread (see ``edge.screen``)."""

    caption = "ЦНАП: табло викликів / Calling screen"

    def __init__(self, size: tuple[int, int], fullscreen: bool, png_dir: Path | None,
                 clock: Clock | None = None) -> None:
        super().__init__("queue-display-screen", size, fullscreen, png_dir, ScreenUpdate(None, False), clock)

    def render(self, update: ScreenUpdate, size: tuple[int, int]) -> Frame:
        return render_frame(update.board, size, update.connected, self.clock.now().strftime("%H:%M"))

    def key(self, update: ScreenUpdate) -> tuple[Any, ...]:
        return _shown_key(update)

    def png_names(self, update: ScreenUpdate, key: tuple[Any, ...], changed: bool) -> list[str]:
        if not changed:
            return []
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%S")
        seq = f"{int((update.board or {}).get('seq') or 0):06d}"
        return ["-".join(str(p) for p in (stamp, seq, key[0], "paused" if key[4] else "", key[1] or "") if p) + ".png"]


class CallingDisplay(ScreenClient[ScreenUpdate]):
    """The role: one socket to the queue, the last board, the screen thread and the voice thread."""

    name = ROLE
    peer = "queue"
    message_type = BOARD
    item = "board"
    path = SCREEN_PATH
    screen_type = CallingScreen
    settings: CallingSettings

    def __init__(self, identity: Identity, settings: CallingSettings, url_of: Callable[[], Awaitable[str]],
                 key_of: KeyLookup, announcer: Announcer | None, clock: Clock | None = None) -> None:
        super().__init__(identity, settings, url_of, key_of, clock)
        self.tracker = CallTracker()
        self.announcer = announcer

    @property
    def board(self) -> dict[str, Any] | None:
        """The queue's last board while the link is up."""
        return self.latest

    def problem(self, message: dict[str, Any]) -> str | None:
        return board_problem(message)

    def update(self) -> ScreenUpdate:
        return ScreenUpdate(self.latest, self.connected)

    def accepted(self, message: dict[str, Any]) -> None:
        if self.announcer is not None:
            for call in self.tracker.new_calls(message):
                self.announcer.announce(call)

    def link_changed(self, up: bool) -> None:
        if up:
            self.tracker.reconnected()

    def start_more(self) -> None:
        if self.announcer is not None:
            self.announcer.start()

    def stop_more(self) -> None:
        if self.announcer is not None:
            self.announcer.close()

    def more_health(self) -> dict[str, Any]:
        voice = "off" if self.announcer is None else (
            f"unavailable: {self.announcer.error}" if self.announcer.error
            else ("ready" if self.announcer.ready.is_set() else "preparing"))
        return {"voice": voice}
