"""The session hall's big screen: one snapshot of the hall in, one picture out.

:func:`render_frame` is the whole screen as a pure function of the hall's
snapshot (``voting.protocol``), the size, whether the hall is reachable and
the clock text, so every state can be drawn and checked without a hall. It
returns the picture and a :class:`~voting.display.layout.HallLayout` that names
what was drawn where. :mod:`voting.display.service` is the role that feeds it.

Ukrainian first, English second and smaller. Sizes follow the rules in
``docs/hall-screen.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # keep the journal to one line per event
import pygame  # noqa: E402

from edge.uk import plural
from edge.screen import save_png  # noqa: E402  (the screens' one PNG writer, re-exported)

from edge.draw import BG, DIM, FG, PANEL, line_height  # noqa: E402
from voting.display.layout import (  # noqa: E402
    ACCENT, OUTCOME_STYLES, RESULT_ORDER, RESULT_STYLES, TIER_A, TIER_B, TIER_C, TIER_EN, WARN, HallCanvas,
    HallLayout, draw_grid, result_style,
)

STATES = ("waiting", "registration", "vote_open", "result", "cancelled")
DISCONNECTED = "disconnected"
NO_DATA = "no_data"

MONTHS = ("січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня", "жовтня",
          "листопада", "грудня")
LINK_LOST = (180, 60, 30)
LINK_LOST_TEXT = "Немає зв’язку із залом"  # the typographic apostrophe U+2019


@dataclass(frozen=True, slots=True)
class Frame:
    """A drawn screen: the picture and the record of what is on it."""

    surface: pygame.Surface
    layout: HallLayout


def screen_state(snapshot: dict[str, Any] | None, connected: bool) -> str:
    """What the screen shows: one of the snapshot states, ``disconnected`` or ``no_data``.

    Without the hall nothing from the last snapshot is shown as current: a
    result that was true a minute ago may have been followed by a new vote.
    """
    if not connected:
        return DISCONNECTED
    if not snapshot or snapshot.get("state") not in STATES:
        return NO_DATA
    return str(snapshot["state"])


def render_frame(snapshot: dict[str, Any] | None, size: tuple[int, int], connected: bool, now_text: str,
                 now: datetime | None = None) -> Frame:
    """Draw the screen. ``now`` is the hall's clock now (for the countdown); by default the snapshot's ``at``."""
    state = screen_state(snapshot, connected)
    canvas = HallCanvas(size, state)
    snap = snapshot or {}
    body = _BODIES[state]
    body(canvas, snap, now)
    _footer(canvas, snap, now_text, connected)
    return Frame(canvas.surface, canvas.layout)


def render(snapshot: dict[str, Any] | None, size: tuple[int, int], connected: bool, now_text: str,
           now: datetime | None = None) -> pygame.Surface:
    """The picture only (see :func:`render_frame`)."""
    return render_frame(snapshot, size, connected, now_text, now).surface


# --- pieces every state shares ---------------------------------------------------


def _band(canvas: HallCanvas, colour: tuple[int, int, int], heading: str, english: str) -> pygame.Rect:
    """The coloured strip on top that says, in words, what is going on."""
    band = pygame.Rect(0, 0, canvas.w, canvas.u(11))
    canvas.fill(band, colour)
    pad = canvas.u(2.5)
    head = canvas.text(heading, cap_px=canvas.cap(TIER_B, 1.2), min_cap_px=canvas.cap(TIER_B), role="heading",
                       face="bold", x=pad, y=canvas.u(1), max_width=canvas.w * 2 // 3)
    canvas.text(english, cap_px=canvas.cap(TIER_EN), role="english", x=pad, y=head.rect.bottom, colour=FG)
    return band


def _footer(canvas: HallCanvas, snap: dict[str, Any], now_text: str, connected: bool) -> None:
    top = canvas.u(95.5)
    canvas.fill(pygame.Rect(0, top, canvas.w, canvas.h - top), PANEL)
    pad = canvas.u(2.5)
    y = top + (canvas.h - top) // 2
    clock = canvas.text(now_text, cap_px=canvas.cap(TIER_C), role="clock", face="bold", x=canvas.w - pad, y=y,
                        anchor="midright")
    parts = [str(snap.get("council") or ""), _date_text(snap.get("date")), _session_text(snap)]
    about = " · ".join(p for p in parts if p)
    if about:
        canvas.text(about, cap_px=canvas.cap(TIER_C), role="footer", x=pad, y=y, anchor="midleft", colour=DIM,
                    max_width=clock.rect.left - 2 * pad)


def _date_text(value: Any) -> str:
    try:
        day = datetime.strptime(str(value), "%Y-%m-%d")
    except ValueError:
        return ""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year} р."


def _session_text(snap: dict[str, Any]) -> str:
    parts = []
    if snap.get("session") is not None:
        parts.append(f"{snap['session']} сесія")
    if snap.get("convocation") is not None:
        parts.append(f"{snap['convocation']} скликання")
    return ", ".join(parts)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _question_heading(item: dict[str, Any]) -> str:
    number = item.get("number")
    return f"Питання № {number}" if number not in (None, "") else "Питання"


# --- the states ----------------------------------------------------------------


def _attendance(canvas: HallCanvas, snap: dict[str, Any], y: int, with_bar: bool) -> None:
    """Registered of total composition, and the quorum: the same in waiting and registration."""
    mid = canvas.w // 2
    registered, total = _int(snap.get("registered")), _int(snap.get("total_composition"))
    needed, met = _int(snap.get("quorum_required")), bool(snap.get("quorum_met"))
    label = canvas.text("Зареєстровано", cap_px=canvas.cap(TIER_B), role="label", x=mid, y=y, anchor="midtop")
    y = label.rect.bottom
    big = canvas.text(f"{registered} з {total}", cap_px=canvas.cap(TIER_A, 1.6), role="registered", face="bold",
                      x=mid, y=y, anchor="midtop")
    y = canvas.text(f"Registered {registered} of {total}", cap_px=canvas.cap(TIER_EN), role="english", x=mid,
                    y=big.rect.bottom, anchor="midtop", colour=DIM).rect.bottom + canvas.u(1.5)
    if with_bar:
        bar = pygame.Rect(canvas.w // 8, y, canvas.w * 3 // 4, canvas.u(3))
        canvas.bar(bar, registered / total if total else 0.0, RESULT_STYLES["За"].fill,
                   marker=needed / total if total else None)
        y = bar.bottom + canvas.u(3)
    if met:
        quorum, colour, english = f"Кворум є ✓ (потрібно {needed})", RESULT_STYLES["За"].fill, "Quorum met"
    else:
        quorum, colour, english = f"Кворуму немає: потрібно {needed}", WARN, f"No quorum: {needed} needed"
    line = canvas.text(quorum, cap_px=canvas.cap(TIER_B), role="quorum", face="bold", x=mid, y=y, anchor="midtop",
                       colour=_brighter(colour))
    y = canvas.text(english, cap_px=canvas.cap(TIER_EN), role="english", x=mid, y=line.rect.bottom,
                    anchor="midtop", colour=DIM).rect.bottom + canvas.u(1.5)
    canvas.text(f"Загальний склад ради: {total}", cap_px=canvas.cap(TIER_B), role="composition", x=mid, y=y,
                anchor="midtop", colour=DIM)


def _waiting(canvas: HallCanvas, snap: dict[str, Any], now: datetime | None) -> None:
    _band(canvas, PANEL, "Пленарне засідання", "Plenary sitting")
    mid, width = canvas.w // 2, canvas.w - canvas.u(10)
    canvas.text(str(snap.get("council") or ""), cap_px=canvas.cap(TIER_B, 1.2), min_cap_px=canvas.cap(TIER_B),
                role="council", face="bold", x=mid, y=canvas.u(14), anchor="midtop", max_width=width)
    when = " · ".join(p for p in (_date_text(snap.get("date")), _session_text(snap)) if p)
    canvas.text(when, cap_px=canvas.cap(TIER_B), role="date", x=mid, y=canvas.u(22), anchor="midtop",
                colour=DIM, max_width=width)
    _attendance(canvas, snap, canvas.u(33), with_bar=False)


def _registration(canvas: HallCanvas, snap: dict[str, Any], now: datetime | None) -> None:
    _band(canvas, ACCENT, "Реєстрація депутатів", "Registration of deputies")
    canvas.text(str(snap.get("council") or ""), cap_px=canvas.cap(TIER_B), role="council", x=canvas.w // 2,
                y=canvas.u(14), anchor="midtop", colour=DIM, max_width=canvas.w - canvas.u(10))
    _attendance(canvas, snap, canvas.u(22), with_bar=True)


def _vote_open(canvas: HallCanvas, snap: dict[str, Any], now: datetime | None) -> None:
    vote = snap.get("vote") or {}
    band = _band(canvas, ACCENT, "Голосування триває", "Voting in progress")
    left = _seconds_left(vote, snap.get("at"), now)
    pad, width = canvas.u(2.5), canvas.w - canvas.u(5)
    if left is not None:
        clock = canvas.text(_clock(left), cap_px=canvas.cap(TIER_A), role="countdown", face="bold",
                            x=canvas.w - pad, y=band.centery, anchor="midright",
                            colour=FG if left > 10 else RESULT_STYLES["Утримався"].fill)
        canvas.text("залишилось", cap_px=canvas.cap(TIER_C), role="countdown-label", x=clock.rect.left - pad,
                    y=band.centery, anchor="midright")
    y = canvas.u(13)
    head = canvas.text(_question_heading(vote), cap_px=canvas.cap(TIER_B), role="question-number", face="bold",
                       x=pad, y=y)
    if vote.get("project_number"):
        canvas.text(f"проєкт рішення № {vote['project_number']}", cap_px=canvas.cap(TIER_C), role="project",
                    x=head.rect.right + pad, y=head.rect.bottom, anchor="bottomleft", colour=DIM)
    y = canvas.paragraph(str(vote.get("title") or ""), cap_px=canvas.cap(TIER_B), role="title", x=pad,
                         y=head.rect.bottom + canvas.u(1), width=width, max_lines=3)
    threshold = _int(vote.get("threshold"))
    rule = (f"Рішення: {vote.get('rule_text') or 'за правилом ради'}; потрібно щонайменше {threshold} "
            f"{plural(threshold, 'голос', 'голоси', 'голосів')} «за»")
    y = canvas.paragraph(rule, cap_px=canvas.cap(TIER_B), role="rule", x=pad, y=y + canvas.u(1.5), width=width,
                         max_lines=2, colour=DIM)
    voted, eligible = _int(vote.get("voted")), _int(vote.get("eligible"))
    y += canvas.u(1.5)
    label_w = canvas.measure("Проголосували:", "regular", canvas.cap(TIER_B))[0]
    count = canvas.text(f"{voted} з {eligible}", cap_px=canvas.cap(TIER_A), role="voted", face="bold",
                        x=pad + label_w + pad, y=y)
    canvas.text("Проголосували:", cap_px=canvas.cap(TIER_B), role="label", x=pad, y=count.rect.bottom,
                anchor="bottomleft")
    canvas.text(f"Voted {voted} of {eligible}", cap_px=canvas.cap(TIER_EN), role="english",
                x=count.rect.right + pad, y=count.rect.bottom, anchor="bottomleft", colour=DIM)
    bar = pygame.Rect(pad, count.rect.bottom + canvas.u(1), width, canvas.u(2.5))
    canvas.bar(bar, voted / eligible if eligible else 0.0, ACCENT)
    counts = vote.get("counts")
    if isinstance(counts, dict):
        area = pygame.Rect(pad, bar.bottom + canvas.u(2.5), width, count_boxes_height(canvas))
        _count_boxes(canvas, counts, ("За", "Проти", "Утримався"), area)
    else:
        note = canvas.text("Як проголосував кожен, буде показано після завершення голосування",
                           cap_px=canvas.cap(TIER_C, 1.3), role="note", x=pad, y=bar.bottom + canvas.u(3),
                           colour=DIM, max_width=width, min_cap_px=canvas.cap(TIER_C))
        canvas.text("Choices are shown when the vote closes", cap_px=canvas.cap(TIER_EN), role="english", x=pad,
                    y=note.rect.bottom, colour=DIM)


def _result(canvas: HallCanvas, snap: dict[str, Any], now: datetime | None) -> None:
    result = snap.get("result") or {}
    pad = canvas.u(1)
    word, english, colour = OUTCOME_STYLES.get(str(result.get("outcome")), ("?", "Unknown", PANEL))
    words_h = canvas.u(1.5) + line_height("bold", canvas.cap(TIER_A, 1.1)) + line_height("regular", canvas.cap(TIER_B))
    panel = pygame.Rect(0, 0, canvas.w * 42 // 100, max(words_h, count_boxes_height(canvas)))
    canvas.fill(panel, colour)
    outcome = canvas.text(word, cap_px=canvas.cap(TIER_A, 1.1), min_cap_px=canvas.cap(TIER_A), role="outcome",
                          face="bold", x=panel.centerx, y=canvas.u(1), anchor="midtop",
                          max_width=panel.width - 2 * pad)
    threshold = _int(result.get("threshold"))
    canvas.text(f"потрібно «за»: {threshold}", cap_px=canvas.cap(TIER_B), role="threshold",
                x=panel.centerx, y=outcome.rect.bottom, anchor="midtop", max_width=panel.width - 2 * pad)
    boxes = pygame.Rect(panel.right + pad, 0, canvas.w - panel.right - pad, panel.height)
    _count_boxes(canvas, result.get("counts") or {}, RESULT_ORDER, boxes)
    title = f"{_question_heading(result)}. {result.get('title') or ''}"
    head = canvas.text(title, cap_px=canvas.cap(TIER_B), role="title", face="bold", x=canvas.u(2.5),
                       y=panel.bottom + canvas.u(0.5), max_width=canvas.w - canvas.u(5))
    rule = (f"Правило: {result.get('rule_text') or '—'}; потрібно «за»: {threshold} · "
            f"{english}: {threshold} For needed")
    canvas.text(rule, cap_px=canvas.cap(TIER_C), role="rule-note", x=canvas.u(2.5), y=head.rect.bottom, colour=DIM,
                max_width=canvas.w - canvas.u(5))
    roll_call = [e for e in result.get("roll_call") or [] if isinstance(e, dict)]
    top = head.rect.bottom + canvas.u(3.5)
    area = pygame.Rect(canvas.u(1.5), top, canvas.w - canvas.u(3), canvas.u(95) - top)
    if roll_call:
        draw_grid(canvas, roll_call, area, canvas.cap(TIER_C))


def _cancelled(canvas: HallCanvas, snap: dict[str, Any], now: datetime | None) -> None:
    cancelled = snap.get("cancelled") or {}
    _band(canvas, WARN, "Голосування скасовано", "Vote cancelled")
    pad, width = canvas.u(2.5), canvas.w - canvas.u(5)
    head = canvas.text(_question_heading(cancelled), cap_px=canvas.cap(TIER_B), role="question-number",
                       face="bold", x=pad, y=canvas.u(14))
    y = canvas.paragraph(str(cancelled.get("title") or ""), cap_px=canvas.cap(TIER_B), role="title", x=pad,
                         y=head.rect.bottom + canvas.u(1), width=width, max_lines=3)
    y = canvas.paragraph(f"Причина: {cancelled.get('reason') or 'не зазначено'}", cap_px=canvas.cap(TIER_B),
                         role="reason", x=pad, y=y + canvas.u(3), width=width, max_lines=3, face="bold")
    note = canvas.text("Голоси цього голосування не враховуються", cap_px=canvas.cap(TIER_C, 1.3), role="note",
                       x=pad, y=y + canvas.u(3), colour=DIM)
    canvas.text("The vote was cancelled; its ballots do not count", cap_px=canvas.cap(TIER_EN), role="english",
                x=pad, y=note.rect.bottom, colour=DIM)


def _disconnected(canvas: HallCanvas, snap: dict[str, Any], now: datetime | None) -> None:
    canvas.fill(pygame.Rect(0, canvas.u(22), canvas.w, canvas.u(40)), LINK_LOST)
    mid, width = canvas.w // 2, canvas.w - canvas.u(6)
    canvas.text(LINK_LOST_TEXT, cap_px=canvas.cap(TIER_A, 1.2), min_cap_px=canvas.cap(TIER_A),
                role="heading", face="bold", x=mid, y=canvas.u(27), anchor="midtop", max_width=width)
    canvas.text("No connection to the hall", cap_px=canvas.cap(TIER_B), role="english", x=mid, y=canvas.u(40),
                anchor="midtop")
    canvas.text("Перепідключення… / Reconnecting…", cap_px=canvas.cap(TIER_C, 1.3), role="note", x=mid,
                y=canvas.u(52), anchor="midtop")
    canvas.text("Поточні результати з’являться, щойно зв’язок відновиться", cap_px=canvas.cap(TIER_B), role="note",
                x=mid, y=canvas.u(68), anchor="midtop", colour=DIM, max_width=width, min_cap_px=canvas.cap(TIER_C))
    canvas.text("Current results will show when the link is back", cap_px=canvas.cap(TIER_EN), role="english",
                x=mid, y=canvas.u(75), anchor="midtop", colour=DIM)


def _no_data(canvas: HallCanvas, snap: dict[str, Any], now: datetime | None) -> None:
    _band(canvas, PANEL, "Очікування даних від залу", "Waiting for data from the hall")


_BODIES = {"waiting": _waiting, "registration": _registration, "vote_open": _vote_open, "result": _result,
           "cancelled": _cancelled, DISCONNECTED: _disconnected, NO_DATA: _no_data}


# --- helpers ----------------------------------------------------------------------


def count_boxes_height(canvas: HallCanvas) -> int:
    """Height of a row of count boxes: a margin, the number, the word, the English word, a margin."""
    lines = [("bold", canvas.cap(TIER_A)), ("condensed", canvas.cap(TIER_C, 1.3)), ("regular", canvas.cap(TIER_EN))]
    return 2 * canvas.u(0.8) + sum(line_height(face, cap) for face, cap in lines)


def _count_boxes(canvas: HallCanvas, counts: dict[str, Any], keys: tuple[str, ...], area: pygame.Rect) -> None:
    """One coloured box per outcome: the number big, the word with its symbol under it."""
    gap = canvas.u(0.8)
    box_w = (area.width - gap * (len(keys) - 1)) // len(keys)
    for i, key in enumerate(keys):
        style = result_style(key)
        box = pygame.Rect(area.x + i * (box_w + gap), area.y, box_w, area.height)
        canvas.fill(box, style.fill)
        number = canvas.text(str(_int(counts.get(key))), cap_px=canvas.cap(TIER_A), role=f"count:{key}",
                             face="bold", x=box.centerx, y=box.y + gap, anchor="midtop", colour=style.ink,
                             max_width=box.width - gap)
        label = canvas.text(f"{style.symbol} {key}", cap_px=canvas.cap(TIER_C, 1.3), min_cap_px=canvas.cap(TIER_C),
                            role="count-label", face="condensed", x=box.centerx, y=number.rect.bottom,
                            anchor="midtop", colour=style.ink, max_width=box.width - gap)
        canvas.text(style.english, cap_px=canvas.cap(TIER_EN), role="english", x=box.centerx, y=label.rect.bottom,
                    anchor="midtop", colour=style.ink, max_width=box.width - gap)


def _seconds_left(vote: dict[str, Any], at: Any, now: datetime | None) -> float | None:
    closes = _parse_time(vote.get("closes_at"))
    current = now or _parse_time(at)
    if closes is None or current is None:
        return None
    return max(0.0, (closes - current).total_seconds())


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _clock(seconds: float) -> str:
    # Round up: "0:01" stays on screen until the vote really has no time left.
    whole = int(-(-seconds // 1))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _brighter(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    # Text in a fill colour on the dark background needs a lighter shade to keep its contrast.
    return tuple(min(255, c + (255 - c) * 2 // 5) for c in colour)  # type: ignore[return-value]


__all__ = ["LINK_LOST_TEXT", "Frame", "render", "render_frame", "save_png", "screen_state", "plural", "STATES",
           "DISCONNECTED", "NO_DATA", "BG", "FG"]
