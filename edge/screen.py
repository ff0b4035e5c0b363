"""The thread that owns pygame for a full-screen display (hall screen, calling screen).

pygame is blocking and not thread-safe, so one thread draws: the asyncio side
hands it updates through a queue (:meth:`ScreenThread.show`). A window is
redrawn every second (clocks, countdowns); a headless screen
(``SDL_VIDEODRIVER=dummy``, or no display at all) draws only when something
changed, and writes PNGs when it has a directory for them. A burst of
updates that show the same thing is drawn once, as its newest; a change of
what is shown is never skipped, so every result gets its PNG.

Subclasses say how to draw an update (:meth:`render`), what it shows
(:meth:`key`), and what to call its PNGs (:meth:`png_names`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Generic, TypeVar

from edge.clock import Clock

log = logging.getLogger("hromada.screen")

HEADLESS_DRIVERS = ("dummy", "offscreen")

U = TypeVar("U")


def save_png(surface: Any, path: str | os.PathLike[str]) -> Path:
    """Write the picture as PNG, atomically: a reader never sees half a file."""
    import pygame

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".screen-", suffix=".png", dir=target.parent)
    os.close(fd)
    try:
        pygame.image.save(surface, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


class ScreenThread(threading.Thread, Generic[U]):
    """Draws updates of type ``U`` on a window or headless, and writes PNGs."""

    caption = "hromada-edge"

    def __init__(self, name: str, size: tuple[int, int], fullscreen: bool, png_dir: Path | None,
                 first: U, clock: Clock | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.size = size
        self.fullscreen = fullscreen
        self.png_dir = png_dir
        self.clock = clock or Clock()  # what the screen shows as now: hub-corrected, in the node's zone
        self.first = first
        self.updates: queue.Queue[U | None] = queue.Queue()
        self.window = False
        self.frames = 0
        self.pngs = 0
        self.last_layout: Any = None
        self.last_drawn = 0.0  # time.monotonic() of the last frame
        self.last_error = ""
        self._shown: Any = None

    # -- what subclasses say ---------------------------------------------------------

    def render(self, update: U, size: tuple[int, int]) -> Any:
        """A frame with ``.surface`` and ``.layout`` for this update."""
        raise NotImplementedError

    def key(self, update: U) -> Any:
        """What the update shows; updates with the same key are drawn once, as the newest."""
        raise NotImplementedError

    def png_names(self, update: U, key: Any, changed: bool) -> list[str]:
        """File names (besides ``current.png``) to save this frame under."""
        return []

    # -- the asyncio side ---------------------------------------------------------------

    def show(self, update: U) -> None:
        """Thread-safe: called from the event loop."""
        self.updates.put_nowait(update)

    def close(self) -> None:
        self.updates.put_nowait(None)

    # -- the thread ----------------------------------------------------------------------

    def run(self) -> None:
        import pygame

        display = self._open_display(pygame)
        current = self.first
        try:
            while True:
                updates = self._take(timeout=1.0 if display is not None else None)
                if updates is None:
                    return
                for current in updates:
                    self._draw(pygame, display, current, write_png=True)
                if display is not None:
                    for event in pygame.event.get():
                        if event.type == pygame.QUIT:
                            log.info("window close ignored: the screen stops with the node")
                    if not updates:
                        self._draw(pygame, display, current, write_png=False)
        finally:
            with contextlib.suppress(Exception):
                pygame.display.quit()

    def _take(self, timeout: float | None) -> list[U] | None:
        """The updates waiting (same-key runs folded into their newest), or None to stop."""
        try:
            items = [self.updates.get(timeout=timeout)]
        except queue.Empty:
            return []
        with contextlib.suppress(queue.Empty):
            while True:
                items.append(self.updates.get_nowait())
        if None in items:
            return None
        kept: list[U] = []
        for item in items:
            assert item is not None
            if kept and self.key(kept[-1]) == self.key(item):
                kept[-1] = item
            else:
                kept.append(item)
        return kept

    def _open_display(self, pygame: Any) -> Any:
        if os.environ.get("SDL_VIDEODRIVER", "") in HEADLESS_DRIVERS:
            log.info("headless screen (SDL_VIDEODRIVER=%s)", os.environ["SDL_VIDEODRIVER"])
            return None
        try:
            pygame.display.init()
            window = pygame.display.set_mode(self.size, pygame.FULLSCREEN if self.fullscreen else 0)
            pygame.display.set_caption(self.caption)
            pygame.mouse.set_visible(not self.fullscreen)
        except pygame.error as exc:
            log.warning("no display (%s): running headless%s", exc,
                        "" if self.png_dir else "; set png_dir to see what the screen shows")
            with contextlib.suppress(Exception):
                pygame.display.quit()
            return None
        self.window = True
        return window

    def _draw(self, pygame: Any, display: Any, update: U, write_png: bool) -> None:
        size = display.get_size() if display is not None else self.size
        try:
            frame = self.render(update, size)
        except Exception as exc:  # a frame that cannot be drawn must not end the screen
            self.last_error = f"render failed: {exc}"
            log.exception("render failed")
            return
        if display is not None:
            display.blit(frame.surface, (0, 0))
            pygame.display.flip()
        drawn = time.monotonic()
        if write_png and self.png_dir is not None:
            self._write_pngs(frame, update)
        self.frames += 1
        self.last_layout, self.last_drawn = frame.layout, drawn  # published once its PNG is on disk

    def _write_pngs(self, frame: Any, update: U) -> None:
        assert self.png_dir is not None
        key = self.key(update)
        try:
            save_png(frame.surface, self.png_dir / "current.png")
            self.pngs += 1
            for name in self.png_names(update, key, key != self._shown):
                save_png(frame.surface, self.png_dir / name)
                self.pngs += 1
        except Exception as exc:  # a full disk must not stop the screen
            self.last_error = f"png: {exc}"
            log.warning("cannot write PNG to %s: %s", self.png_dir, exc)
        self._shown = key
