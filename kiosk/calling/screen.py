"""The ЦНАП calling screen: one board snapshot in, one picture out.

:func:`render_frame` is the whole screen as a pure function of the queue's
board (``kiosk.protocol``, BOARD), the size, whether the queue is reachable
and the clock text, so every state can be drawn and checked without a
queue. What is drawn is recorded in a :class:`~edge.draw.Layout` (the
drawing primitives of :mod:`edge.draw` are shared with the session hall's screen).

Sizes are shares of the screen height, chosen to be read from 5 m on a 55″
panel (``docs/queue.md``): the newest call's capitals 14 % of the height
(≈ 96 mm), the recent calls 6.2 %, labels 3 %, English lines 2.2 %: every
text takes at least 10′ of arc at 5 m, the newest call over an hour's worth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

from edge.draw import DIM, FG, PANEL, Canvas, Layout, line_height  # noqa: E402

TIER_HERO = 0.140  # the newest call: ≈ 96 mm capitals on a 55″ panel, the «≈ 100 mm for 5 m» rule
TIER_ROW = 0.062  # recent calls, the pause heading: ≈ 42 mm, 29′ at 5 m
TIER_LABEL = 0.030  # labels, lane tags, clock, names: ≈ 21 mm, 14′ at 5 m
TIER_EN = 0.022  # English second lines: ≈ 15 mm, 10′ at 5 m

PRIORITY = (118, 52, 140)  # the priority lane: its own colour AND a word and a star, never colour alone
PAUSED = (168, 62, 0)
LINK_LOST = (150, 48, 24)
HERO_BG = (22, 74, 140)

CALLS = "calls"
IDLE = "idle"
DISCONNECTED = "disconnected"
NO_DATA = "no_data"
STATES = (CALLS, IDLE, DISCONNECTED, NO_DATA)

LINK_LOST_TEXT = "Немає зв’язку з чергою"
ARROW = "→"
STAR = "★"


@dataclass(frozen=True, slots=True)
class Frame:
    """A drawn screen: the picture and the record of what is on it."""

    surface: pygame.Surface
    layout: Layout


def screen_state(board: dict[str, Any] | None, connected: bool) -> str:
    """What the screen shows. Without the queue nothing of the last board is shown as current."""
    if not connected:
        return DISCONNECTED
    if not board or board.get("type") != "board":
        return NO_DATA
    return CALLS if board.get("calls") else IDLE


def call_text(call: dict[str, Any]) -> str:
    """«А042 → Вікно 3»."""
    return f"{call.get('label', '?')} {ARROW} Вікно {call.get('window', '?')}"


def render_frame(board: dict[str, Any] | None, size: tuple[int, int], connected: bool, now_text: str) -> Frame:
    state = screen_state(board, connected)
    canvas = Canvas(size, state)
    snap = board or {}
    top = _top_bar(canvas, snap if state in (CALLS, IDLE) else {}, now_text)
    if state == DISCONNECTED:
        _message(canvas, top, LINK_LOST, LINK_LOST_TEXT, "No connection to the queue",
                 "Виклики тимчасово не показуються", "Calls are not shown for now")
    elif state == NO_DATA:
        _message(canvas, top, PANEL, "Очікування даних від черги", "Waiting for the queue", "", "")
    else:
        if snap.get("pause"):
            top = _pause_banner(canvas, top, snap["pause"])
        calls = _distinct([c for c in snap.get("calls") or [] if isinstance(c, dict)])
        if calls:
            top = _hero(canvas, top, calls[0])
            _recent(canvas, top, calls[1:])
        else:
            _idle(canvas, top)
        _footer(canvas, snap)
    return Frame(canvas.surface, canvas.layout)


def _distinct(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, each ticket at a window once: a recall does not push other calls off the screen."""
    seen: set[tuple[Any, Any]] = set()
    out = []
    for c in calls:
        key = (c.get("label"), c.get("window"))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


# --- pieces -------------------------------------------------------------------------------


def _top_bar(canvas: Canvas, snap: dict[str, Any], now_text: str) -> int:
    bar = pygame.Rect(0, 0, canvas.w, canvas.u(9))
    canvas.fill(bar, PANEL)
    pad = canvas.u(2.5)
    clock = canvas.text(now_text, cap_px=canvas.cap(TIER_LABEL, 1.4), role="clock", face="bold", x=canvas.w - pad,
                        y=bar.centery, anchor="midright")
    name = str(snap.get("cnap") or "")
    if name:
        canvas.text(name, cap_px=canvas.cap(TIER_LABEL, 1.2), min_cap_px=canvas.cap(TIER_LABEL), role="cnap",
                    face="bold", x=pad, y=bar.centery, anchor="midleft", max_width=clock.rect.left - 2 * pad)
    return bar.bottom


def _message(canvas: Canvas, top: int, colour: tuple[int, int, int], uk: str, en: str, uk2: str, en2: str) -> None:
    band = pygame.Rect(0, top, canvas.w, canvas.h - top)
    canvas.fill(band, colour)
    mid, width = canvas.w // 2, canvas.w - canvas.u(8)
    head = canvas.text(uk, cap_px=canvas.cap(TIER_ROW, 1.3), min_cap_px=canvas.cap(TIER_ROW), role="message",
                       face="bold", x=mid, y=top + canvas.u(24), anchor="midtop", max_width=width)
    y = canvas.text(en, cap_px=canvas.cap(TIER_EN), role="english", x=mid, y=head.rect.bottom + canvas.u(1),
                    anchor="midtop").rect.bottom + canvas.u(5)
    if uk2:
        line = canvas.text(uk2, cap_px=canvas.cap(TIER_LABEL), role="label", x=mid, y=y, anchor="midtop",
                           max_width=width)
        canvas.text(en2, cap_px=canvas.cap(TIER_EN), role="english", x=mid, y=line.rect.bottom, anchor="midtop")


def _pause_banner(canvas: Canvas, top: int, pause: dict[str, Any]) -> int:
    head_cap, reason_cap, en_cap = canvas.cap(TIER_ROW), canvas.cap(TIER_ROW, 0.8), canvas.cap(TIER_EN)
    height = (canvas.u(3) + line_height("condensed", head_cap) + line_height("regular", reason_cap)
              + line_height("regular", en_cap))
    band = pygame.Rect(0, top, canvas.w, height)
    canvas.fill(band, PAUSED)
    mid, width = canvas.w // 2, canvas.w - canvas.u(6)
    head = canvas.text("ОБСЛУГОВУВАННЯ ПРИЗУПИНЕНО", cap_px=head_cap, role="pause", face="condensed", x=mid,
                       y=band.top + canvas.u(1.5), anchor="midtop", max_width=width, min_cap_px=canvas.cap(TIER_LABEL))
    reason = str(pause.get("reason") or "")
    note = str(pause.get("note") or "")
    text = reason[:1].upper() + reason[1:] + (f" ({note})" if note else "")
    line = canvas.text(text, cap_px=reason_cap, min_cap_px=canvas.cap(TIER_LABEL), role="pause-reason", x=mid,
                       y=head.rect.bottom, anchor="midtop", max_width=width)
    canvas.text("Service is paused. Your ticket keeps its place.", cap_px=en_cap, role="english",
                x=mid, y=line.rect.bottom, anchor="midtop")
    return band.bottom


def _hero(canvas: Canvas, top: int, call: dict[str, Any]) -> int:
    """The newest call, as large as the screen allows: «А042 → Вікно 3»."""
    priority = bool(call.get("priority"))
    hero_cap = canvas.cap(TIER_HERO)
    height = canvas.u(2.5) + line_height("regular", canvas.cap(TIER_LABEL)) + line_height("condensed", hero_cap)
    panel = pygame.Rect(0, top + canvas.u(1), canvas.w, height)
    canvas.fill(panel, PRIORITY if priority else HERO_BG)
    pad = canvas.u(2.5)
    label = canvas.text("Запрошується", cap_px=canvas.cap(TIER_LABEL), role="hero-label", x=pad,
                        y=panel.top + canvas.u(1.5))
    canvas.text("Now calling", cap_px=canvas.cap(TIER_EN), role="english", x=label.rect.right + pad,
                y=label.rect.bottom, anchor="bottomleft", colour=DIM if not priority else FG)
    tags = []
    if priority:
        tags.append(f"{STAR} Пільгова черга")
    if call.get("repeat"):
        tags.append("Повторний виклик")
    if tags:
        canvas.text(" · ".join(tags), cap_px=canvas.cap(TIER_LABEL), role="lane", face="bold", x=canvas.w - pad,
                    y=panel.top + canvas.u(1.5), anchor="topright")
    canvas.text(call_text(call), cap_px=hero_cap, min_cap_px=canvas.cap(TIER_ROW), role="hero", face="condensed",
                x=canvas.w // 2, y=label.rect.bottom, anchor="midtop", max_width=canvas.w - 2 * pad)
    return panel.bottom


def _recent(canvas: Canvas, top: int, calls: list[dict[str, Any]]) -> None:
    """The calls before the newest, read down the left column, then the right."""
    pad = canvas.u(2.5)
    head = canvas.text("Попередні виклики", cap_px=canvas.cap(TIER_LABEL), role="label", x=pad, y=top + canvas.u(1.5),
                       colour=DIM)
    canvas.text("Earlier calls", cap_px=canvas.cap(TIER_EN), role="english", x=head.rect.right + pad,
                y=head.rect.bottom, anchor="bottomleft", colour=DIM)
    if any(c.get("priority") for c in calls):
        canvas.text(f"{STAR} — пільгова черга", cap_px=canvas.cap(TIER_LABEL), role="lane", x=canvas.w - pad,
                    y=head.rect.top, anchor="topright")
    bottom = canvas.u(92)
    row_h = line_height("condensed", canvas.cap(TIER_ROW)) + canvas.u(0.8)
    y0 = head.rect.bottom + canvas.u(1)
    rows = max(0, (bottom - y0) // row_h)
    col_w = (canvas.w - 3 * pad) // 2
    for i, call in enumerate(calls[:2 * rows]):
        col, row = divmod(i, rows)
        cell = pygame.Rect(pad + col * (col_w + pad), y0 + row * row_h, col_w, row_h - canvas.u(0.8))
        priority = bool(call.get("priority"))
        if priority:
            canvas.fill(cell, PRIORITY)
        text = (f"{STAR} " if priority else "") + call_text(call)
        canvas.text(text, cap_px=canvas.cap(TIER_ROW), role="row", face="condensed", x=cell.x + pad // 2,
                    y=cell.centery, anchor="midleft", max_width=col_w - pad)


def _idle(canvas: Canvas, top: int) -> None:
    mid = canvas.w // 2
    head = canvas.text("Очікуйте виклику", cap_px=canvas.cap(TIER_ROW, 1.3), role="message", face="bold", x=mid,
                       y=top + canvas.u(22), anchor="midtop")
    line = canvas.text("Номер талона й вікно з’являться тут", cap_px=canvas.cap(TIER_LABEL), role="label", x=mid,
                       y=head.rect.bottom + canvas.u(2), anchor="midtop", colour=DIM)
    canvas.text("Please wait to be called: your ticket and window will appear here", cap_px=canvas.cap(TIER_EN),
                role="english", x=mid, y=line.rect.bottom + canvas.u(1), anchor="midtop", colour=DIM,
                max_width=canvas.w - canvas.u(6))


def _footer(canvas: Canvas, snap: dict[str, Any]) -> None:
    top = canvas.u(93)
    canvas.fill(pygame.Rect(0, top, canvas.w, canvas.h - top), PANEL)
    pad, y = canvas.u(2.5), top + (canvas.h - top) // 2
    waiting = snap.get("waiting")
    right = canvas.w - pad
    if isinstance(waiting, int) and not isinstance(waiting, bool):
        right = canvas.text(f"У черзі: {waiting}", cap_px=canvas.cap(TIER_LABEL), role="waiting", x=right, y=y,
                            anchor="midright").rect.left - 2 * pad
    community = str(snap.get("community") or "")
    if community:
        canvas.text(community, cap_px=canvas.cap(TIER_LABEL), role="footer", x=pad, y=y, anchor="midleft",
                    colour=DIM, max_width=right - pad)

