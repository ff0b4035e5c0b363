"""The kiosk's pygame thread: draws what the flow shows, turns touches into taps, speaks in speech mode.

pygame blocks and is not safe to share, so one thread owns it (as the
calling screen's does). The asyncio side hands it snapshots of the
:class:`~kiosk.terminal.model.KioskFlow`; the thread hands back the *action* of
the button under each tap, hit-tested on the picture the visitor saw.

A tap arrives from SDL twice: as a finger event and as a synthesized mouse
event with ``touch`` set. Only the finger event counts; a mouse event
counts only when it is not synthesized (a real mouse, the demo window).
A press held :data:`LONG_PRESS_S` anywhere (or the F1 key) switches speech
mode, so it can be started without seeing the screen. In speech mode the
first tap on a button says what it is; a second tap on it chooses it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable

from kiosk.terminal.model import KioskFlow
from kiosk.terminal.screens import KioskLayout, Panel, render_screen, speech_lines
from kiosk.speech import PAUSE
from kiosk.voice import ClipLibrary, Speaker
from edge.speech import SpeechThread
from edge.screen import HEADLESS_DRIVERS, save_png

log = logging.getLogger("hromada.kiosk")

LONG_PRESS_S = 2.0
CONFIRM_S = 6.0  # in speech mode, a second tap on the same button within this chooses it


class KioskVoice(SpeechThread[list[str]]):
    """Says lists of phrases with espeak-ng clips (cached per phrase), newest request only (edge.speech)."""

    def __init__(self, library: ClipLibrary, speaker: Speaker, wav_dir: Path | None) -> None:
        super().__init__("kiosk-voice", newest_only=True)  # only the newest screen is worth saying
        self.library, self.speaker, self.wav_dir = library, speaker, wav_dir
        self.spoken = 0
        self.last_phrases: list[str] = []
        self.last_wav: Path | None = None

    def speak(self, phrases: list[str]) -> None:
        self.library.ensure([*phrases, PAUSE])
        stitched = self.library.stitch([t for p in phrases for t in (p, PAUSE)])
        if self.wav_dir is not None:
            self.last_wav = stitched.write(self.wav_dir / "last-speech.wav")
            self.speaker.play(self.last_wav)
        self.last_phrases, self.spoken = phrases, self.spoken + 1

    def failed(self, phrases: list[str], exc: Exception) -> None:
        # A voice that fails must not stop the kiosk.
        self.error = str(exc)
        log.warning("speech failed: %s", exc)


class KioskScreen(threading.Thread):
    """The thread that owns pygame: the window (or a headless surface), events, PNGs."""

    def __init__(self, panel: Panel, fullscreen: bool, png_dir: Path | None,
                 on_action: Callable[[str], None], voice: KioskVoice | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name="kiosk-screen", daemon=True)
        self.panel, self.fullscreen, self.png_dir = panel, fullscreen, png_dir
        self.on_action, self.voice, self.clock = on_action, voice, clock
        self.snapshots: queue.Queue[KioskFlow | None] = queue.Queue()
        self.ready = threading.Event()
        self.window = False
        self.frames = 0
        self.frame_ms: dict[str, list[float]] = {}
        self.last_layout: KioskLayout | None = None
        self.last_flow: KioskFlow | None = None
        self.drawn_changes = -1
        self.taps = 0
        self.ignored_mouse = 0
        self.last_error = ""
        self._down: tuple[tuple[int, int], float] | None = None
        self._long_fired = False
        self._explained: tuple[str, float] | None = None
        self._spoken_key: tuple[Any, ...] | None = None
        self._stop = False

    def show(self, flow: KioskFlow) -> None:
        self.snapshots.put_nowait(copy.copy(flow))

    def close(self) -> None:
        self.snapshots.put_nowait(None)

    def run(self) -> None:
        import pygame

        display = self._open_display(pygame)
        self.ready.set()
        try:
            while not self._stop:
                latest = None
                with contextlib.suppress(queue.Empty):
                    while True:
                        item = self.snapshots.get_nowait()
                        if item is None:
                            return
                        latest = item
                if latest is not None:
                    self._draw(pygame, display, latest)
                for event in pygame.event.get() if pygame.display.get_init() else []:
                    self._event(pygame, event)
                self._check_long_press()
                if latest is None:
                    time.sleep(0.005)
        finally:
            with contextlib.suppress(Exception):
                pygame.display.quit()

    # --- display ---

    def _open_display(self, pygame: Any) -> Any:
        size = (self.panel.width_px, self.panel.height_px)
        headless = os.environ.get("SDL_VIDEODRIVER", "") in HEADLESS_DRIVERS
        try:
            pygame.display.init()
            flags = pygame.FULLSCREEN if self.fullscreen and not headless else 0
            window = pygame.display.set_mode(size, flags)  # even headless: the event queue needs it
            pygame.display.set_caption("ЦНАП: кіоск / Kiosk")
            pygame.mouse.set_visible(not self.fullscreen)
        except pygame.error as exc:
            log.warning("no display (%s): running headless", exc)
            os.environ["SDL_VIDEODRIVER"] = "dummy"
            with contextlib.suppress(Exception):
                pygame.display.quit()
            pygame.display.init()
            window = pygame.display.set_mode(size)
            headless = True
        self.window = not headless
        return window

    def _draw(self, pygame: Any, display: Any, flow: KioskFlow) -> None:
        started = time.perf_counter()
        try:
            frame = render_screen(flow, self.panel, self.clock())
        except Exception as exc:  # a screen that cannot be drawn must not end the kiosk
            self.last_error = f"render failed: {exc}"
            log.exception("render failed")
            return
        display.blit(frame.surface, (0, 0))
        if self.window:
            pygame.display.flip()
        self.frame_ms.setdefault(flow.screen.value, []).append((time.perf_counter() - started) * 1000)
        if self.png_dir is not None:
            name = flow.screen.value + ("-en" if flow.lang == "en" else "") + ("-idle" if frame.layout.warning else "")
            try:
                save_png(frame.surface, self.png_dir / f"{name}.png")
                save_png(frame.surface, self.png_dir / "current.png")
            except Exception as exc:  # a full disk must not stop the kiosk
                self.last_error = f"png: {exc}"
        self.frames += 1
        self.last_layout, self.last_flow, self.drawn_changes = frame.layout, flow, flow.changes
        if flow.speech and self.voice is not None:
            key = (flow.screen, flow.lang, flow.print_status, frame.layout.warning, flow.speech)
            if key != self._spoken_key:
                self._spoken_key = key
                self.voice.say(speech_lines(flow, frame.layout))
        elif not flow.speech:
            self._spoken_key = None

    # --- touches ---

    def _event(self, pygame: Any, event: Any) -> None:
        t = time.monotonic()
        if event.type == pygame.FINGERDOWN:
            self._press((round(event.x * self.panel.width_px), round(event.y * self.panel.height_px)), t)
        elif event.type == pygame.FINGERUP:
            self._release(t)
        elif event.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
            if getattr(event, "touch", False):
                self.ignored_mouse += 1  # SDL's copy of a finger event: already handled
                return
            if event.type == pygame.MOUSEBUTTONDOWN and getattr(event, "button", 1) == 1:
                self._press(tuple(event.pos), t)
            elif event.type == pygame.MOUSEBUTTONUP:
                self._release(t)
        elif event.type == pygame.KEYDOWN and event.key == pygame.K_F1:
            self.on_action("speech")

    def _press(self, pos: tuple[int, int], t: float) -> None:
        self._down, self._long_fired = (pos, t), False

    def _release(self, t: float) -> None:
        if self._down is None:
            return
        pos, _ = self._down
        self._down = None
        if not self._long_fired:
            self._tap(pos)

    def _check_long_press(self) -> None:
        if self._down is not None and not self._long_fired and time.monotonic() - self._down[1] >= LONG_PRESS_S:
            self._long_fired = True
            self.on_action("speech")

    def _tap(self, pos: tuple[int, int]) -> None:
        layout, flow = self.last_layout, self.last_flow
        if layout is None or flow is None:
            return
        self.taps += 1
        button = layout.hit(pos)
        if button is None:
            if layout.warning:
                self.on_action("more_time")
            return
        if flow.speech and self.voice is not None and button.action not in ("speech",):
            now = time.monotonic()
            if self._explained is None or self._explained[0] != button.action or now - self._explained[1] > CONFIRM_S:
                self._explained = (button.action, now)
                lines = [line for line in speech_lines(flow, layout) if line.endswith(f": {button.label}.")]
                self.voice.say([*(lines[:1] or [button.label]), "Торкніться ще раз, щоб обрати."])
                self.on_action("touch")  # a touch all the same: the idle clock restarts
                return
            self._explained = None
        self.on_action(button.action)

