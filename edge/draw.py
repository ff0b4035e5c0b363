"""Drawing primitives of every screen: fonts, size rules, colours, text that fits, a record of what was drawn.

The session hall's screen, the ЦНАП calling screen and the kiosk draw with
these. Lengths are fractions of the screen height (:meth:`Canvas.u`,
:meth:`Canvas.cap`), so a 1920×1080 and a 1280×720 screen show the same
picture; a text's size is the height of its capital letters, the measure
the size rules of ``docs/hall-screen.md`` and ``docs/queue.md`` are written in.

What is drawn is also recorded (:class:`TextItem` in a :class:`Layout`), so
a test can read a screen the way a person in front of it would.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from typing import Callable

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # keep the journal to one line per event
import pygame  # noqa: E402

from edge.fonts import FONT_DIR  # noqa: E402  (one font family for every screen)

FACES = {
    "regular": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    # Narrower letters let 120 names fit without shrinking below the rule.
    "condensed": "DejaVuSansCondensed-Bold.ttf",
}

Colour = tuple[int, int, int]

# The big screens' palette: light text on a dark ground, readable across a hall.
BG: Colour = (12, 18, 28)
PANEL: Colour = (28, 38, 54)
FG: Colour = (245, 245, 245)
DIM: Colour = (165, 176, 190)


@dataclass(frozen=True, slots=True)
class TextItem:
    """A piece of text as drawn: where, how tall its capitals are, what it is for."""

    text: str
    rect: pygame.Rect
    cap_px: int
    role: str


@dataclass(slots=True)
class Layout:
    """Everything a frame shows, for tests and for the log."""

    size: tuple[int, int]
    state: str
    texts: list[TextItem] = field(default_factory=list)

    def text(self) -> str:
        """All drawn text in drawing order, one item per line."""
        return "\n".join(t.text for t in self.texts)

    def find(self, needle: str) -> list[TextItem]:
        return [t for t in self.texts if needle in t.text]

    def by_role(self, role: str) -> list[TextItem]:
        return [t for t in self.texts if t.role == role]


@functools.lru_cache(maxsize=256)
def font(face: str, size_px: int) -> pygame.font.Font:
    """A bundled font at a pixel size (cached: opening a TTF costs milliseconds)."""
    if not pygame.font.get_init():
        pygame.font.init()
    return pygame.font.Font(str(FONT_DIR / FACES[face]), max(4, size_px))


def cap_height(face: str, size_px: int) -> int:
    """Height of a capital letter «Н» in pixels, the measure of the size rules."""
    metrics = font(face, size_px).metrics("Н")[0]
    return int(metrics[3]) if metrics else size_px * 73 // 100


@functools.lru_cache(maxsize=1024)
def size_for_cap(face: str, cap_px: float) -> int:
    """The smallest font size whose capitals are at least ``cap_px`` tall."""
    size = max(4, int(cap_px / 0.73))
    while cap_height(face, size) < math.ceil(cap_px):
        size += 1
    return size


def line_height(face: str, cap_px: int) -> int:
    """The height one line of text takes at this capital height."""
    return font(face, size_for_cap(face, cap_px)).get_linesize()


class Canvas:
    """A surface plus the record of what was drawn on it."""

    layout_type: type[Layout] = Layout  # a screen that records more (the hall's grid) names its own

    def __init__(self, size: tuple[int, int], state: str) -> None:
        self.surface = pygame.Surface(size)
        self.surface.fill(BG)
        self.layout = self.layout_type(size, state)
        self.w, self.h = size

    def u(self, percent_of_height: float) -> int:
        """A length in hundredths of the screen height."""
        return round(self.h * percent_of_height / 100)

    def cap(self, tier: float, scale: float = 1.0) -> int:
        return math.ceil(self.h * tier * scale)

    def fill(self, rect: pygame.Rect, colour: Colour) -> None:
        self.surface.fill(colour, rect)

    def measure(self, text: str, face: str, cap_px: int) -> tuple[int, int]:
        return font(face, size_for_cap(face, cap_px)).size(text)

    def fit(self, text: str, face: str, cap_px: int, min_cap_px: int, max_width: int) -> tuple[str, int]:
        """Shrink from ``cap_px`` towards ``min_cap_px`` until the text fits, then cut it with «…»."""
        cap = cap_px
        while cap > min_cap_px and self.measure(text, face, cap)[0] > max_width:
            cap = max(min_cap_px, int(cap * 0.92))
        if self.measure(text, face, cap)[0] <= max_width:
            return text, cap
        return ellipsize(text, lambda t: self.measure(t, face, cap)[0], max_width), cap

    def text(self, text: str, *, cap_px: int, role: str, x: int, y: int, face: str = "regular",
             colour: Colour = FG, anchor: str = "topleft", max_width: int | None = None,
             min_cap_px: int | None = None) -> TextItem:
        """Draw one line; ``anchor`` is a pygame.Rect attribute placed at (x, y)."""
        if max_width is not None:
            text, cap_px = self.fit(text, face, cap_px, min_cap_px or cap_px, max_width)
        f = font(face, size_for_cap(face, cap_px))
        image = f.render(text, True, colour)
        rect = image.get_rect(**{anchor: (x, y)})
        self.surface.blit(image, rect)
        item = TextItem(text, rect, cap_height(face, size_for_cap(face, cap_px)), role)
        self.layout.texts.append(item)
        return item

    def paragraph(self, text: str, *, cap_px: int, role: str, x: int, y: int, width: int, max_lines: int,
                  face: str = "regular", colour: Colour = FG) -> int:
        """Draw wrapped text, at most ``max_lines`` (the last one cut with «…»); returns the y below it."""
        f = font(face, size_for_cap(face, cap_px))
        for line in wrap(text, lambda t: f.size(t)[0], width, max_lines):
            if line:
                self.text(line, cap_px=cap_px, role=role, x=x, y=y, face=face, colour=colour)
                y += f.get_linesize()
        return y

    def bar(self, rect: pygame.Rect, fraction: float, colour: Colour, marker: float | None = None) -> None:
        """A progress bar; ``marker`` draws a line at that fraction (the quorum)."""
        self.fill(rect, PANEL)
        done = rect.copy()
        done.width = round(rect.width * max(0.0, min(1.0, fraction)))
        self.fill(done, colour)
        if marker is not None:
            mx = rect.x + round(rect.width * max(0.0, min(1.0, marker)))
            self.fill(pygame.Rect(mx - 2, rect.y - rect.height // 3, 4, rect.height * 5 // 3), FG)


def ellipsize(text: str, width_of: Callable[[str], int], max_width: int) -> str:
    """The longest prefix of ``text`` that fits with «…» after it."""
    if width_of(text) <= max_width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if width_of(text[:mid].rstrip() + "…") <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…"


def wrap(text: str, width_of: Callable[[str], int], max_width: int, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines``; text left over ends the last line with «…»."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if not current or width_of(candidate) <= max_width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        # The next line's text did not fit after this one, so «…» is sure to appear.
        lines = lines[:max_lines - 1] + [lines[max_lines - 1] + " " + lines[max_lines]]
    return [ellipsize(line, width_of, max_width) for line in lines] or [""]


def mix(a: Colour, b: Colour, share_a: float) -> Colour:
    """The colour ``share_a`` of ``a`` and the rest of ``b`` (a tint of a fill on the background)."""
    return tuple(round(x * share_a + y * (1 - share_a)) for x, y in zip(a, b))  # type: ignore[return-value]
