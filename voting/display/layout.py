"""Drawing primitives of the hall screen: size rules, fonts, colours, text, grid.

Everything is measured in fractions of the screen height, so the 1920×1080
and the 1280×720 screens show the same picture. The size rules (why a
headline's capital letters are 6 % of the height) are in
``docs/hall-screen.md``; the tests check every drawn text against them.

What is drawn is also recorded (:class:`TextItem`, :class:`GridCell`), so a
test can read the screen the way a person in the hall would.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # keep the journal to one line per event
import pygame  # noqa: E402

from edge.fonts import FONT_DIR  # noqa: E402  (one font family for every screen)
FACES = {
    "regular": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    # Narrower letters let 120 names fit without shrinking below the rule.
    "condensed": "DejaVuSansCondensed-Bold.ttf",
}

# Capital-letter height as a fraction of the screen height (docs/hall-screen.md).
TIER_A = 0.060  # decisions: outcome, counts, countdown, voted/eligible: 16′ at 15 m
TIER_B = 0.037  # what is decided: question, rule, state headings: 10′ at 15 m
TIER_C = 0.016  # names in the grid, labels, footer: 10′ at 6.5 m, and the broadcast
TIER_EN = 0.012  # English second lines: for guests close by, never the only carrier

BG = (12, 18, 28)
PANEL = (28, 38, 54)
FG = (245, 245, 245)
DIM = (165, 176, 190)
ACCENT = (40, 100, 185)
WARN = (215, 120, 20)


@dataclass(frozen=True, slots=True)
class ResultStyle:
    """How one roll-call result looks: fill colour, text colour, symbol, English word."""

    fill: tuple[int, int, int]
    ink: tuple[int, int, int]
    symbol: str
    english: str


# Colour AND symbol: a colour-blind viewer or a grey print of the minutes
# still tells «За» from «Проти».
RESULT_STYLES: dict[str, ResultStyle] = {
    "За": ResultStyle((40, 145, 60), FG, "✓", "For"),
    "Проти": ResultStyle((205, 45, 45), FG, "✗", "Against"),
    "Утримався": ResultStyle((235, 175, 25), (15, 15, 15), "○", "Abstained"),
    "Не голосував": ResultStyle((100, 115, 132), FG, "–", "Did not vote"),
    "Відсутній": ResultStyle((48, 56, 68), DIM, "·", "Absent"),
}
RESULT_ORDER = tuple(RESULT_STYLES)
UNKNOWN_STYLE = ResultStyle((48, 56, 68), DIM, "?", "Unknown")

OUTCOME_STYLES = {
    "Прийнято": ("ПРИЙНЯТО", "Adopted", RESULT_STYLES["За"].fill),
    "Не прийнято": ("НЕ ПРИЙНЯТО", "Not adopted", RESULT_STYLES["Проти"].fill),
}


@dataclass(frozen=True, slots=True)
class TextItem:
    """A piece of text as drawn: where, how tall its capitals are, what it is for."""

    text: str
    rect: pygame.Rect
    cap_px: int
    role: str


@dataclass(frozen=True, slots=True)
class GridCell:
    """One deputy in the result grid."""

    rect: pygame.Rect
    swatch: pygame.Rect  # the coloured square holding the symbol
    deputy_id: str
    name: str  # full name from the roll call
    label: str  # what is written (shortened to fit)
    result: str
    colour: tuple[int, int, int]
    symbol: str
    name_cap_px: int


@dataclass(slots=True)
class Layout:
    """Everything a frame shows, for tests and for the log."""

    size: tuple[int, int]
    state: str
    texts: list[TextItem] = field(default_factory=list)
    cells: list[GridCell] = field(default_factory=list)

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

    def __init__(self, size: tuple[int, int], state: str) -> None:
        self.surface = pygame.Surface(size)
        self.surface.fill(BG)
        self.layout = Layout(size, state)
        self.w, self.h = size

    def u(self, percent_of_height: float) -> int:
        """A length in hundredths of the screen height."""
        return round(self.h * percent_of_height / 100)

    def cap(self, tier: float, scale: float = 1.0) -> int:
        return math.ceil(self.h * tier * scale)

    def fill(self, rect: pygame.Rect, colour: tuple[int, int, int]) -> None:
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
             colour: tuple[int, int, int] = FG, anchor: str = "topleft", max_width: int | None = None,
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
                  face: str = "regular", colour: tuple[int, int, int] = FG) -> int:
        """Draw wrapped text, at most ``max_lines`` (the last one cut with «…»); returns the y below it."""
        f = font(face, size_for_cap(face, cap_px))
        for line in wrap(text, lambda t: f.size(t)[0], width, max_lines):
            if line:
                self.text(line, cap_px=cap_px, role=role, x=x, y=y, face=face, colour=colour)
                y += f.get_linesize()
        return y

    def bar(self, rect: pygame.Rect, fraction: float, colour: tuple[int, int, int],
            marker: float | None = None) -> None:
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


def short_name(full_name: str) -> str:
    """«Прізвище Ім'я По батькові» → «Прізвище І. Б.» (a name already with initials stays)."""
    words = full_name.split()
    if len(words) < 2 or any("." in w for w in words[1:]):
        return " ".join(words)
    initials = [_initial(w) for w in words[1:3]]
    return " ".join([words[0], *(i for i in initials if i)])


def _initial(word: str) -> str:
    letters = [c for c in word if c.isalpha()]
    return f"{letters[0].upper()}." if letters else ""


def name_candidates(full_name: str) -> list[str]:
    """Ever shorter forms of a name, best first: initials, one initial, the surname."""
    words = full_name.split()
    short = short_name(full_name)
    out = [short]
    if len(words) >= 2 and not any("." in w for w in words[1:]):
        out.append(f"{words[0]} {_initial(words[1])}")
    if words:
        out.append(words[0])
    return list(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class GridPlan:
    """Columns and rows chosen for a number of deputies in an area."""

    columns: int
    rows: int
    cell_w: int
    cell_h: int
    gap: int
    name_cap_px: int


def plan_grid(names: list[str], area: pygame.Rect, min_cap_px: int = 1, max_columns: int = 10) -> GridPlan:
    """The column count that gives the names the tallest letters that still fit.

    The height of a row limits the letters (capitals at most half of it);
    the width of a column limits them too, for a long name: the longest of
    four in five, so that a rare double surname is cut (keeping initials)
    rather than shrinking every name. Width never pushes the letters below
    ``min_cap_px``, the size rule: a name that does not fit is shortened.
    """
    gap = max(2, area.height // 300)
    by_length = sorted(names, key=len) or ["Прізвище І. Б."]
    longest = by_length[min(len(by_length) - 1, int(len(by_length) * 0.8))]
    best: GridPlan | None = None
    n = max(1, len(names))
    for columns in range(1, max_columns + 1):
        rows = math.ceil(n / columns)
        cell_w = (area.width - gap * (columns - 1)) // columns
        cell_h = (area.height - gap * (rows - 1)) // rows
        if cell_h < 6 or cell_w < 20:
            continue
        by_height = int(cell_h * 0.5)
        room = cell_w - cell_h - cell_h // 3  # the swatch is a square of the row's height
        width_at_probe = max(1, font("condensed", size_for_cap("condensed", 20)).size(longest)[0])
        by_width = int(20 * room / width_at_probe)
        cap = max(1, min(by_height, max(by_width, min_cap_px)))
        if best is None or cap > best.name_cap_px:
            best = GridPlan(columns, rows, cell_w, cell_h, gap, cap)
    assert best is not None
    return best


def draw_grid(canvas: Canvas, roll_call: list[dict[str, Any]], area: pygame.Rect, min_cap_px: int) -> GridPlan:
    """The named grid: every deputy with a coloured, symbol-marked square and the name."""
    entries = [(str(e.get("id", "")), str(e.get("name", "")), str(e.get("result", ""))) for e in roll_call]
    plan = plan_grid([short_name(name) for _, name, _ in entries], area, min_cap_px)
    name_cap = max(plan.name_cap_px, 1)
    for index, (deputy_id, name, result) in enumerate(entries):
        # Column-major order: a list read down, then across, like a printed roll call.
        col, row = divmod(index, plan.rows)
        rect = pygame.Rect(area.x + col * (plan.cell_w + plan.gap), area.y + row * (plan.cell_h + plan.gap),
                           plan.cell_w, plan.cell_h)
        style = RESULT_STYLES.get(result, UNKNOWN_STYLE)
        swatch = pygame.Rect(rect.x, rect.y, rect.height, rect.height)
        canvas.fill(rect, _mix(style.fill, BG, 0.22))
        canvas.fill(swatch, style.fill)
        symbol_cap = max(1, int(rect.height * 0.55))
        sym = font("bold", size_for_cap("bold", symbol_cap)).render(style.symbol, True, style.ink)
        canvas.surface.blit(sym, sym.get_rect(center=swatch.center))
        room = rect.width - swatch.width - rect.height // 3
        label = _fitting_name(canvas, name, name_cap, room)
        ink = DIM if result == "Відсутній" else FG
        item = canvas.text(label, cap_px=name_cap, role="grid-name", face="condensed", colour=ink,
                           x=swatch.right + rect.height // 6, y=rect.centery, anchor="midleft")
        canvas.layout.cells.append(GridCell(rect, swatch, deputy_id, name, label, result, style.fill,
                                            style.symbol, item.cap_px))
    return plan


def _fitting_name(canvas: Canvas, name: str, cap_px: int, room: int) -> str:
    """The fullest form of the name that fits; a very long surname is cut, its initials kept."""
    def width(text: str) -> int:
        return canvas.measure(text, "condensed", cap_px)[0]

    for candidate in name_candidates(name):
        if width(candidate) <= room:
            return candidate
    surname, _, initials = short_name(name).partition(" ")
    if initials and width(f"{surname[:4]}… {initials}") <= room:
        cut = ellipsize(surname + "⁠" * 0, lambda t: width(f"{t} {initials}"), room)
        return f"{cut} {initials}"
    return ellipsize(surname, width, room)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], share_a: float) -> tuple[int, int, int]:
    return tuple(round(x * share_a + y * (1 - share_a)) for x, y in zip(a, b))  # type: ignore[return-value]


def result_style(result: str) -> ResultStyle:
    return RESULT_STYLES.get(result, UNKNOWN_STYLE)
