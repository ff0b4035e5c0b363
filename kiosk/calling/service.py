"""The `queue-display` role: the ЦНАП hall's calling screen with spoken calls, a client of the queue.

The role keeps one sealed WebSocket to the queue (:class:`edge.peers.PeerClient`
at :data:`kiosk.protocol.SCREEN_PATH`) and the last board it sent. pygame
blocks, so drawing runs in :class:`CallingScreen`, its own thread; speaking
runs in :class:`~kiosk.calling.announcer.Announcer`, another. The asyncio side only
hands them what arrived.

Without a display (``SDL_VIDEODRIVER=dummy``, or none found) the screen runs
headless and, with ``png_dir`` set, leaves PNG pictures of what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

from edge.config import at_least, ConfigError, build_section, http_url, one_of, option
from edge.discovery import peer_url
from edge.identity import Identity
from edge.peers import KeyLookup, PeerClient, roster_lookup
from kiosk.calling.announcer import Announcer, CallTracker
from kiosk.calling.screen import Frame, render_frame, screen_state
from kiosk.protocol import BOARD, SCREEN_PATH
from kiosk.voice import ClipLibrary, FileOnly, SoundCard, Speaker
from edge.screen import ScreenThread

log = logging.getLogger("hromada.queue-display")

ROLE = "queue-display"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallingSettings:
    """`[roles.queue-display]`: the ЦНАП hall's calling screen, with spoken calls."""

    queue_url: str = option("", "Base URL of the queue node, e.g. `http://10.0.0.7:8700`. Empty: find it by mDNS "
                            "(a node with role `queue` in this site's roster).", http_url)
    width: int = option(1920, "Screen width in pixels (1920×1080 and 1280×720 are laid out and tested).",
                        at_least(640, "pixels"))
    height: int = option(1080, "Screen height in pixels; every size on the screen is a share of it.", at_least(360, "pixels"))
    fullscreen: bool = option(True, "Fill the whole display; `false` opens a window (the demo).")
    png_dir: str = option("", "Directory for PNG pictures of the screen: `current.png` after every update and "
                          "one file per change of what is shown. Empty: none.")
    audio: str = option("auto", "Spoken calls: `auto` (the sound card through `aplay` when there is one, else "
                        "WAV files only), `device`, `file` (WAV files in `wav_dir`), `off`.",
                        one_of("auto", "device", "file", "off"))
    wav_dir: str = option("", "Directory for a WAV file of each spoken call (`last-call.wav` and the newest 50). "
                          "Empty: `<state_dir>/calls` when calls go to files only.")
    voice_dir: str = option("", "Cache of the word clips made with espeak-ng (voice `uk`) on first use. "
                            "Empty: `<state_dir>/voice`.")


def load_settings(table: dict[str, Any], path: str) -> CallingSettings:
    return build_section(CallingSettings, table, path, f"roles.{ROLE}")


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
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__("queue-display-screen", size, fullscreen, png_dir, ScreenUpdate(None, False), clock)

    def render(self, update: ScreenUpdate, size: tuple[int, int]) -> Frame:
        return render_frame(update.board, size, update.connected, datetime.fromtimestamp(self.clock()).strftime("%H:%M"))

    def key(self, update: ScreenUpdate) -> tuple[Any, ...]:
        return _shown_key(update)

    def png_names(self, update: ScreenUpdate, key: tuple[Any, ...], changed: bool) -> list[str]:
        if not changed:
            return []
        stamp = datetime.fromtimestamp(self.clock()).strftime("%Y%m%dT%H%M%S")
        seq = f"{int((update.board or {}).get('seq') or 0):06d}"
        return ["-".join(str(p) for p in (stamp, seq, key[0], "paused" if key[4] else "", key[1] or "") if p) + ".png"]


class CallingDisplay:
    """The role: one socket to the queue, the last board, the screen thread and the voice thread."""

    name = ROLE

    def __init__(self, identity: Identity, settings: CallingSettings, url_of: Callable[[], Awaitable[str]],
                 key_of: KeyLookup, announcer: Announcer | None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.board: dict[str, Any] | None = None
        self.connected = False
        self.rejected = 0
        self.tracker = CallTracker()
        self.announcer = announcer
        png_dir = Path(settings.png_dir) if settings.png_dir else None
        self.screen = CallingScreen((settings.width, settings.height), settings.fullscreen, png_dir, clock)
        self.client = PeerClient(identity, SCREEN_PATH, url_of, key_of, self._on_message, self._on_state)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.screen.start()
        if self.announcer is not None:
            self.announcer.start()
        self._push()
        self._task = asyncio.create_task(self.client.run(), name="queue-display-link")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.screen.close()
        if self.announcer is not None:
            self.announcer.close()
        await asyncio.to_thread(self.screen.join, 5.0)

    def health(self) -> dict[str, Any]:
        layout = self.screen.last_layout
        voice = "off" if self.announcer is None else (
            f"unavailable: {self.announcer.error}" if self.announcer.error
            else ("ready" if self.announcer.ready.is_set() else "preparing"))
        return {"connected": self.connected, "queue": self.client.peer_id, "seq": (self.board or {}).get("seq"),
                "showing": layout.state if layout else None, "window": self.screen.window,
                "frames": self.screen.frames, "pngs": self.screen.pngs, "rejected_boards": self.rejected,
                "voice": voice, "last_error": self.screen.last_error}

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != BOARD:
            return
        problem = board_problem(message)
        if problem is not None:
            self.rejected += 1
            log.warning("ignoring a board from the queue: %s", problem)
            return
        self.board = message
        self._push()
        if self.announcer is not None:
            for call in self.tracker.new_calls(message):
                self.announcer.announce(call)

    def _on_state(self, up: bool) -> None:
        self.connected = up
        self.board = None  # whatever we had is history: after a reconnect only a fresh board is shown
        if up:
            self.tracker.reconnected()
        log.info("queue %s", "connected" if up else "connection lost")
        self._push()

    def _push(self) -> None:
        self.screen.show(ScreenUpdate(self.board, self.connected))


def make_speaker(settings: CallingSettings, state_dir: Path) -> tuple[Speaker, Path | None] | None:
    """The speaker and the WAV directory the settings ask for; None when calls are not spoken."""
    mode = settings.audio
    if mode == "off":
        return None
    if mode == "auto":
        mode = "device" if SoundCard.present() else "file"
    wav_dir = Path(settings.wav_dir) if settings.wav_dir else (state_dir / "calls" if mode == "file" else None)
    return (SoundCard() if mode == "device" else FileOnly()), wav_dir


async def create(ctx: Any) -> CallingDisplay:
    """Role factory (``kiosk.calling.service:create``)."""
    settings = load_settings(ctx.role_config, ctx.config.path)
    url_of = peer_url(ctx, f"roles.{ROLE}.queue_url", settings.queue_url, "queue")
    if settings.audio == "device" and not SoundCard.present():
        raise ConfigError(ctx.config.path, f"roles.{ROLE}.audio",
                          "`device` needs aplay (alsa-utils) and a sound card (/dev/snd); use `auto` or `file`")
    announcer = None
    chosen = make_speaker(settings, ctx.config.state_dir)
    if chosen is not None:
        speaker, wav_dir = chosen
        voice_dir = Path(settings.voice_dir) if settings.voice_dir else ctx.config.state_dir / "voice"
        announcer = Announcer(ClipLibrary(voice_dir), speaker, wav_dir)
    hub = ctx.hub
    role = CallingDisplay(ctx.identity, settings, url_of, roster_lookup(lambda: hub.roster, {"queue"}), announcer,
                          clock=lambda: time.time() + (hub.clock_offset_s or 0.0))

    def collect() -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        return [
            ("hromada_queue_display_connected", "gauge", "1 while the queue's boards arrive.",
             [({}, 1 if role.connected else 0)]),
            ("hromada_queue_display_frames_total", "counter", "Frames drawn.", [({}, role.screen.frames)]),
            ("hromada_queue_display_rejected_total", "counter", "Boards refused as malformed.",
             [({}, role.rejected)]),
        ]
    ctx.metrics.collector(collect)
    return role
