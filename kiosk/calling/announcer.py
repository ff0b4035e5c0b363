"""Which calls the calling screen speaks, and the thread that speaks them.

:class:`CallTracker` decides, from each board the queue sends, which calls
are new: every call is spoken once, oldest first; after a (re)connection
only calls made in the last :data:`FRESH_S` seconds are spoken, so a screen
that comes back does not read out the morning. :class:`Announcer` owns the
clip library and the speaker, in its own thread: making the clips the first
time and playing a call both block.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.speech import SpeechThread
from kiosk.speech import call_tokens, say
from kiosk.voice import ClipLibrary, Speaker, VoiceUnavailable

log = logging.getLogger("hromada.queue-display")

FRESH_S = 20.0  # after a reconnection, calls older than this (by the queue's clock) stay silent
KEEP_WAVS = 50  # WAV files of past calls kept in wav_dir
BACKLOG = 12  # calls waiting to be spoken; beyond it the oldest waiting is dropped (logged)


@dataclass(frozen=True, slots=True)
class Announcement:
    """One call to speak."""

    label: str
    window: int
    repeat: bool
    at: str

    @property
    def tokens(self) -> list[str]:
        return call_tokens(self.label, self.window, repeat=self.repeat)


class CallTracker:
    """Remembers what was spoken; yields what is new in each board."""

    def __init__(self, remember: int = 200) -> None:
        self._seen: deque[tuple[str, int, str]] = deque(maxlen=remember)
        self._fresh_start = True

    def reconnected(self) -> None:
        self._fresh_start = True

    def new_calls(self, board: dict[str, Any]) -> list[Announcement]:
        """Calls in ``board`` not spoken yet, oldest first."""
        calls = [c for c in board.get("calls") or [] if isinstance(c, dict)]
        fresh_only = self._fresh_start
        self._fresh_start = False
        board_at = _time(board.get("at"))
        out = []
        for c in reversed(calls):
            try:
                a = Announcement(str(c["label"]), int(c["window"]), bool(c.get("repeat")), str(c["at"]))
            except (KeyError, TypeError, ValueError):
                continue
            key = (a.label, a.window, a.at)
            if key in self._seen:
                continue
            self._seen.append(key)
            called = _time(a.at)
            if fresh_only and (board_at is None or called is None or (board_at - called).total_seconds() > FRESH_S):
                continue
            out.append(a)
        return out


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


class Announcer(SpeechThread[Announcement]):
    """Speaks calls one after another: stitches the clips into a WAV, keeps it, plays it."""

    unavailable = (VoiceUnavailable, OSError)
    silent_note = "calls will be shown but not spoken"

    def __init__(self, library: ClipLibrary, speaker: Speaker, wav_dir: Path | None) -> None:
        super().__init__("queue-display-voice", backlog=BACKLOG)
        self.log = log
        self.library = library
        self.speaker = speaker
        self.wav_dir = wav_dir
        self.spoken: deque[tuple[str, Path | None]] = deque(maxlen=100)  # (words, wav) of recent calls
        self._count = 0

    def announce(self, a: Announcement) -> None:
        """Thread-safe: queue a call (the oldest waiting is dropped past the backlog)."""
        self.say(a)

    def prepare(self) -> None:
        self.library.ensure()

    def failed(self, a: Announcement, exc: Exception) -> None:
        log.exception("could not speak %s → %s: %s", a.label, a.window, exc)

    def speak(self, a: Announcement) -> None:
        tokens = a.tokens
        audio = self.library.stitch(tokens)
        self._count += 1
        path: Path | None = None
        if self.wav_dir is not None:
            stamp = time.strftime("%Y%m%dT%H%M%S")
            path = audio.write(self.wav_dir / f"{stamp}-{self._count:04d}-{a.label}-w{a.window}.wav")
            audio.write(self.wav_dir / "last-call.wav")
            self._prune()
        else:
            path = audio.write(self.library.directory / "last-call.wav")
        log.info("spoken: %s", say(tokens))
        self.spoken.append((say(tokens), path))
        self.speaker.play(path)

    def _prune(self) -> None:
        assert self.wav_dir is not None
        files = sorted(p for p in self.wav_dir.glob("*-w*.wav") if p.name != "last-call.wav")
        for old in files[:-KEEP_WAVS]:
            old.unlink(missing_ok=True)
