"""The `hall-display` role: the session hall's big screen, a client of the hall.

The role keeps one sealed WebSocket to the hall (:class:`edge.peers.PeerClient`
at :data:`voting.protocol.SCREEN_PATH`) and the last snapshot it sent. pygame
blocks, so drawing runs in :class:`ScreenWorker`, its own thread, fed through
a thread-safe queue; the asyncio side never waits for a frame.

Without a display (no X, Wayland or KMS, or ``SDL_VIDEODRIVER=dummy``) the
screen runs headless and, with ``png_dir`` set, leaves PNG pictures of what
it would show: for the demo, for the minutes and for the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

from edge.config import at_least, option, build_section, http_url
from edge.discovery import peer_url
from edge.identity import Identity
from edge.peers import KeyLookup, PeerClient, roster_lookup
from voting.protocol import SCREEN_PATH
from edge.screen import ScreenThread
from voting.display.screen import STATES, Frame, render_frame, screen_state

log = logging.getLogger("hromada.hall-display")

ROLE = "hall-display"


@dataclass(frozen=True, slots=True, kw_only=True)
class HallDisplaySection:
    """`[roles.hall-display]`: the session hall's big screen."""

    hall_url: str = option("", "Base URL of the hall node, e.g. `http://10.0.0.5:8700`. Empty: find the hall by mDNS "
                             "(a node with role `hall` that is in this site's roster).", http_url)
    width: int = option(1920, "Screen width in pixels (1920×1080 and 1280×720 are laid out and tested).", at_least(640, "pixels"))
    height: int = option(1080, "Screen height in pixels; every size on the screen is a share of it.", at_least(360, "pixels"))
    fullscreen: bool = option(True, "Fill the whole display; `false` opens a window (the demo).")
    png_dir: str = option("", "Directory for PNG pictures of the screen: `current.png` after every update, one file "
                            "per change of what is shown, `result-<uid>.png` per closed vote. Empty: none.")


def load_settings(table: dict[str, Any], path: str) -> HallDisplaySection:
    """Validate the role's table; a wrong key or value raises ConfigError naming it."""
    return build_section(HallDisplaySection, table, path, f"roles.{ROLE}")


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
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__("hall-display-screen", size, fullscreen, png_dir,
                         ScreenUpdate(None, False, time.monotonic()), clock)

    def render(self, update: ScreenUpdate, size: tuple[int, int]) -> Frame:
        now_text = datetime.fromtimestamp(self.clock()).strftime("%H:%M:%S")
        return render_frame(update.snapshot, size, update.connected, now_text,
                            hall_now(update.snapshot, update.received, time.monotonic()))

    def key(self, update: ScreenUpdate) -> tuple[str, str]:
        return _screen_key(update)

    def png_names(self, update: ScreenUpdate, key: tuple[str, str], changed: bool) -> list[str]:
        state, uid = key
        names = []
        if changed:
            snap = update.snapshot or {}
            stamp = datetime.fromtimestamp(self.clock()).strftime("%Y%m%dT%H%M%S")
            seq = f"{int(snap.get('seq') or 0):06d}" if snap else ""
            names.append("-".join(p for p in (stamp, seq, state, _safe(uid) if uid else "") if p) + ".png")
        if state == "result" and uid:
            names.append(f"result-{_safe(uid)}.png")  # for the minutes
        return names


class HallDisplay:
    """The role: one socket to the hall, the last snapshot, and the screen thread."""

    name = ROLE

    def __init__(self, identity: Identity, settings: HallDisplaySection, url_of: Callable[[], Awaitable[str]],
                 key_of: KeyLookup, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.snapshot: dict[str, Any] | None = None
        self.connected = False
        self.rejected = 0
        png_dir = Path(settings.png_dir) if settings.png_dir else None
        self.screen = ScreenWorker((settings.width, settings.height), settings.fullscreen, png_dir, clock)
        self.client = PeerClient(identity, SCREEN_PATH, url_of, key_of, self._on_message, self._on_state)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.screen.start()
        self._push()  # «no connection» until the hall answers
        self._task = asyncio.create_task(self.client.run(), name="hall-display-link")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.screen.close()
        await asyncio.to_thread(self.screen.join, 5.0)

    def health(self) -> dict[str, Any]:
        layout = self.screen.last_layout
        return {
            "connected": self.connected,
            "hall": self.client.peer_id,
            "seq": (self.snapshot or {}).get("seq"),
            "showing": layout.state if layout else None,
            "window": self.screen.window,
            "frames": self.screen.frames,
            "pngs": self.screen.pngs,
            "rejected_snapshots": self.rejected,
            "last_error": self.screen.last_error,
        }

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "hall":
            return
        problem = snapshot_problem(message)
        if problem is not None:
            self.rejected += 1
            log.warning("ignoring a snapshot from the hall: %s", problem)
            return
        self.snapshot = message
        self._push()

    def _on_state(self, up: bool) -> None:
        self.connected = up
        # Whatever we had is history now: after a reconnect only a fresh snapshot is shown.
        self.snapshot = None
        log.info("hall %s", "connected" if up else "connection lost")
        self._push()

    def _push(self) -> None:
        self.screen.show(ScreenUpdate(self.snapshot, self.connected, time.monotonic()))


async def create(ctx: Any) -> HallDisplay:
    """Role factory (``voting.display.service:create``)."""
    settings = load_settings(ctx.role_config, ctx.config.path)
    url_of = peer_url(ctx, f"roles.{ROLE}.hall_url", settings.hall_url, "hall")
    hub = ctx.hub
    role = HallDisplay(ctx.identity, settings, url_of, roster_lookup(lambda: hub.roster, {"hall"}),
                       clock=lambda: time.time() + (hub.clock_offset_s or 0.0))

    def collect() -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        return [
            ("hromada_hall_display_connected", "gauge", "1 while the hall's snapshots arrive.",
             [({}, 1 if role.connected else 0)]),
            ("hromada_hall_display_frames_total", "counter", "Frames drawn.", [({}, role.screen.frames)]),
            ("hromada_hall_display_rejected_total", "counter", "Snapshots refused as malformed.",
             [({}, role.rejected)]),
        ]
    ctx.metrics.collector(collect)
    return role
