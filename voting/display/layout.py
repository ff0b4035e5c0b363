"""The hall screen's own drawing: its size tiers, result colours and symbols, the named roll-call grid.

The generic primitives (fonts, the canvas, text that fits) are in
:mod:`edge.draw`, shared with the ЦНАП screens. Everything is measured in
fractions of the screen height, so the 1920×1080 and the 1280×720 screens
show the same picture. The size rules (why a headline's capital letters are
6 % of the height) are in ``docs/hall-screen.md``; the tests check every
drawn text against them.

What is drawn is also recorded (:class:`~edge.draw.TextItem`, :class:`GridCell`
in a :class:`HallLayout`), so a test can read the screen the way a person in
the hall would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pygame

from edge.draw import BG, DIM, FG, Canvas, Layout, ellipsize, font, mix, size_for_cap

# Capital-letter height as a fraction of the screen height (docs/hall-screen.md).
TIER_A = 0.060  # decisions: outcome, counts, countdown, voted/eligible: 16′ at 15 m
TIER_B = 0.037  # what is decided: question, rule, state headings: 10′ at 15 m
TIER_C = 0.016  # names in the grid, labels, footer: 10′ at 6.5 m, and the broadcast
TIER_EN = 0.012  # English second lines: for guests close by, never the only carrier

# The hall's own colours, beside edge.draw's shared palette (BG, PANEL, FG, DIM).
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
class HallLayout(Layout):
    """What a hall frame shows: the texts, and the deputies of the result grid."""

    cells: list[GridCell] = field(default_factory=list)


class HallCanvas(Canvas):
    """A canvas whose record also holds the grid's cells."""

    layout_type = HallLayout
    layout: HallLayout


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


def draw_grid(canvas: HallCanvas, roll_call: list[dict[str, Any]], area: pygame.Rect, min_cap_px: int) -> GridPlan:
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
        canvas.fill(rect, mix(style.fill, BG, 0.22))
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


def _fitting_name(canvas: HallCanvas, name: str, cap_px: int, room: int) -> str:
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


def result_style(result: str) -> ResultStyle:
    return RESULT_STYLES.get(result, UNKNOWN_STYLE)
