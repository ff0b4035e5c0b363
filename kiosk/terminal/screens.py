"""The kiosk's screens: one :class:`~kiosk.terminal.model.KioskFlow` in, one picture and its buttons out.

:func:`render_screen` is a pure function of the flow, the panel and the
clock, like the calling screen's ``render_frame``. Sizes come from the
panel's physical size (``px_per_mm``): every button is at least
``TARGET_MM`` square with ``GAP_MM`` between buttons and every icon has its
words beside it (colours and texts: :mod:`kiosk.terminal.style`).

:func:`speech_lines` is what speech mode says for the same screen, always
in Ukrainian.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

from kiosk.terminal.model import GRADES, KioskFlow, PrintStatus, Screen  # noqa: E402
from kiosk.terminal.style import (ALERT, BAR, BG, BUTTON, FACE_COLOURS, GAP_MM, GRADE_EN, INK, PRIMARY,  # noqa: E402
                               PRIORITY, SOFT, TARGET_MM, T, tr)
from kiosk.speech import ticket_words  # noqa: E402
from edge.draw import Canvas, Layout  # noqa: E402

@dataclass(frozen=True, slots=True)
class Panel:
    """The touch panel: pixels and millimetres, from configuration."""

    width_px: int
    height_px: int
    width_mm: float
    height_mm: float

    @property
    def px_per_mm(self) -> float:
        return min(self.width_px / self.width_mm, self.height_px / self.height_mm)

    def mm(self, millimetres: float) -> int:
        return math.ceil(millimetres * self.px_per_mm)


@dataclass(frozen=True, slots=True)
class Button:
    """A touch target: where, what it does, its words and its icon."""

    rect: pygame.Rect
    action: str
    label: str
    icon: str = ""
    fill: tuple[int, int, int] = BUTTON


@dataclass(slots=True)
class KioskLayout:
    """What one frame shows: the drawn texts (``layout``) and the buttons."""

    screen: str
    layout: Layout
    buttons: list[Button] = field(default_factory=list)
    warning: bool = False
    big_number: str = ""

    def find(self, needle: str) -> list[Any]:
        """The drawn texts containing ``needle`` (:class:`edge.draw.TextItem`)."""
        return self.layout.find(needle)

    def text(self) -> str:
        return self.layout.text()

    def hit(self, pos: tuple[int, int]) -> Button | None:
        """The button under a finger; the idle warning's button covers everything while it is up."""
        for b in reversed(self.buttons):
            if b.rect.collidepoint(pos):
                return b
        return None

    def button(self, action: str) -> Button:
        return next(b for b in self.buttons if b.action == action)


@dataclass(frozen=True, slots=True)
class Frame:
    surface: pygame.Surface
    layout: KioskLayout


class _Screen:
    """Drawing helpers bound to one frame."""

    def __init__(self, flow: KioskFlow, panel: Panel) -> None:
        self.flow, self.panel = flow, panel
        self.canvas = Canvas((panel.width_px, panel.height_px), flow.screen.value)
        self.canvas.surface.fill(BG)
        self.out = KioskLayout(flow.screen.value, self.canvas.layout)
        self.target, self.gap = panel.mm(TARGET_MM), panel.mm(GAP_MM)
        self.w, self.h = panel.width_px, panel.height_px
        self.cap = max(panel.mm(4.5), 12)  # ≈ 4.5 mm capitals on buttons: read at arm's length
        self.small = max(panel.mm(3.2), 10)
        self.bar_h = self.target + 2 * self.gap  # the bottom bar holds buttons
        self.top = self.cap * 2 + 2 * self.gap  # the title bar holds words only

    def text(self, text: str, cap: int, x: int, y: int, role: str, anchor: str = "topleft", colour=INK,
             face: str = "regular", max_width: int | None = None):
        return self.canvas.text(text, cap_px=cap, role=role, x=x, y=y, anchor=anchor, colour=colour, face=face,
                                max_width=max_width or self.w - 2 * self.gap, min_cap_px=max(8, cap * 2 // 3))

    def title(self, key: str) -> None:
        self.canvas.fill(pygame.Rect(0, 0, self.w, self.top), BAR)
        self.text(tr(self.flow, key), self.cap, self.gap * 2, self.top // 2, "title", "midleft", face="bold",
                  max_width=self.w - 4 * self.gap)

    def button(self, rect: pygame.Rect, action: str, label: str, icon: str = "", fill=BUTTON,
               second: str = "") -> Button:
        pygame.draw.rect(self.canvas.surface, fill, rect, border_radius=self.gap)
        x = rect.x + self.gap * 2
        if icon and rect.width >= self.target * 5 // 2:  # a narrow key keeps its words and drops the picture
            glyph = self.text(icon, self.cap * 3 // 2, x, rect.centery, "icon", "midleft", face="bold")
            x = glyph.rect.right + self.gap * 2
        width = rect.right - self.gap * 2 - x
        if second:
            self.text(label, self.cap, x, rect.centery, "button", "bottomleft", max_width=width, face="bold")
            self.text(second, self.small, x, rect.centery + self.gap // 2, "button-note", "topleft", INK,
                      max_width=width)
        else:
            self.text(label, self.cap, x, rect.centery, "button", "midleft", max_width=width, face="bold")
        b = Button(rect, action, label, icon, fill)
        self.out.buttons.append(b)
        return b

    def grid(self, items: list[tuple[str, str, str, Any, str]], cols: int, top: int, bottom: int,
             min_h: int | None = None) -> None:
        """Buttons (action, label, icon, fill, second line) in ``cols`` columns between ``top`` and ``bottom``."""
        if not items:
            return
        rows = math.ceil(len(items) / cols)
        cell_w = (self.w - (cols + 1) * self.gap) // cols
        cell_h = max(self.target, min((bottom - top - (rows + 1) * self.gap) // rows, min_h or 10 ** 6))
        for i, (action, label, icon, fill, second) in enumerate(items):
            r, c = divmod(i, cols)
            rect = pygame.Rect(self.gap + c * (cell_w + self.gap), top + self.gap + r * (cell_h + self.gap),
                               cell_w, cell_h)
            self.button(rect, action, label, icon, fill or BUTTON, second)

    def bottom_bar(self, back: str | None = "back") -> int:
        """The bar every screen has: back/start, the language toggle, speech. Returns its top."""
        y = self.h - self.bar_h
        self.canvas.fill(pygame.Rect(0, y, self.w, self.bar_h), BAR)
        items = []
        if back:
            items.append((back, tr(self.flow, back), {"back": "←", "skip": "→"}.get(back, "⌂"), None, ""))
        items.append(("lang", tr(self.flow, "lang"), "EN" if self.flow.lang == "uk" else "UA", None, ""))
        items.append(("speech", tr(self.flow, "speech_on" if self.flow.speech else "speech"), "♫", None, ""))
        width = min((self.w - (len(items) + 1) * self.gap) // len(items), self.target * 5)
        for i, (action, label, icon, _fill, _s) in enumerate(items):
            rect = pygame.Rect(self.w - (len(items) - i) * (width + self.gap), y + self.gap, width, self.target)
            self.button(rect, action, label, icon)
        return y


def render_screen(flow: KioskFlow, panel: Panel, now: float) -> Frame:
    """The whole kiosk screen for the flow's state."""
    s = _Screen(flow, panel)
    draw = _DRAW[flow.screen]
    draw(s)
    left = flow.warning_left(now)
    if left is not None:
        _idle_warning(s, left)
    return Frame(s.canvas.surface, s.out)


def _start(s: _Screen) -> None:
    s.title("start")
    bottom = s.bottom_bar(back=None)
    items = [("take", tr(s.flow, "take"), "▶", PRIMARY, ""),
             ("priority", tr(s.flow, "priority"), "★", PRIORITY, ""),
             ("check_in", tr(s.flow, "check_in"), "#", None, ""),
             ("rate", tr(s.flow, "rate"), "☺", None, "")]
    s.grid(items, 2 if s.w >= s.target * 6 else 1, s.top, bottom)


def _groups(s: _Screen) -> None:
    s.title("rate_groups" if s.flow.purpose == "rate" else "groups")
    bottom = s.bottom_bar(None if s.flow.rating_only else "home")
    star = s.flow.lane == "priority"
    items = [(f"group:{g['id']}", str(g.get("title", "")), str(g.get("prefix", "")),
              PRIORITY if star else None, f"{len(g.get('services', []))} послуг(и)" if s.flow.lang == "uk"
              else f"{len(g.get('services', []))} service(s)") for g in s.flow.groups()]
    s.grid(items, 2 if s.w >= s.target * 6 else 1, s.top, bottom, min_h=s.target * 2)


def _services(s: _Screen) -> None:
    s.title("rate_services" if s.flow.purpose == "rate" else "services")
    bottom = s.bottom_bar("back")
    group = s.flow.group() or {}
    items = []
    for svc in group.get("services", []):
        est = svc.get("estimate") or {}
        windows = ", ".join(str(w) for w in svc.get("windows", []))
        note = (f"{tr(s.flow, 'ahead')}: {est.get('people_ahead', '—')} · {est.get('text', '—')} · "
                f"{tr(s.flow, 'windows')}: {windows or '—'}")
        if s.flow.purpose == "rate":
            note = ""
        elif not svc.get("open", True):
            note = ("Зараз не надається · " if s.flow.lang == "uk" else "Not provided now · ") + str(svc.get("hours", ""))
        items.append((f"service:{svc['id']}", str(svc.get("title", "")), "☺" if not note else "▶",
                      BUTTON if not note else PRIMARY, note))
    s.grid(items, 1, s.top, bottom, min_h=s.target * 3 // 2)


def _priority(s: _Screen) -> None:
    s.title("priority_title")
    bottom = s.bottom_bar("home")
    go_top = bottom - s.target - 2 * s.gap
    y = s.top + s.gap * 2
    roomy = go_top - y >= 8 * s.cap  # a 7″ panel gets smaller conditions text, never a cut-off button
    for key in ("priority_who", "priority_check"):
        y = s.canvas.paragraph(tr(s.flow, key), cap_px=s.cap if roomy else s.small, role="conditions", x=s.gap * 2,
                               y=y, width=s.w - 4 * s.gap, max_lines=3) + s.gap
    s.grid([("priority_go", tr(s.flow, "priority_go"), "★", PRIORITY, "")], 1, go_top, bottom)


def _check_in(s: _Screen) -> None:
    s.title("code_title")
    bottom = s.bottom_bar("home")
    keys = [(f"key:{d}", d, "", None, "") for d in "123456789"]
    keys += [("key:del", tr(s.flow, "key_del"), "⌫", None, ""), ("key:0", "0", "", None, ""),
             ("key:ok", tr(s.flow, "key_ok"), "✓", PRIMARY, "")]
    room = bottom - s.top
    if room >= 4 * s.target + 5 * s.gap and s.w // 2 >= 3 * s.target + 4 * s.gap:
        cols, rows, x0, width = 3, 4, s.w // 2, s.w - s.w // 2  # the keypad on the right, the code on the left
        code_box = pygame.Rect(s.gap, s.top + s.gap, s.w // 2 - 2 * s.gap, s.target)
    else:  # a small panel: two rows of six across, the code in a strip above them
        keys = [k for k in keys if k[0] != "key:0"]
        keys.insert(9, ("key:0", "0", "", None, ""))
        cols, rows, x0, width = 6, 2, 0, s.w
        code_box = pygame.Rect(s.gap, s.top + s.gap // 2, s.w - 2 * s.gap, room - 2 * s.target - 4 * s.gap)
    s.canvas.fill(code_box, BAR)
    s.text(s.flow.code or "_ _ _ _ _ _", max(s.cap, min(s.cap * 2, code_box.height * 7 // 10)), code_box.x + 2 * s.gap,
           code_box.centery, "code", "midleft", face="bold", max_width=code_box.width - 4 * s.gap)
    kw = max(s.target, (width - (cols + 1) * s.gap) // cols)
    top = code_box.bottom if cols == 6 else s.top
    kh = max(s.target, (bottom - top - (rows + 1) * s.gap) // rows)
    for i, (action, label, icon, fill, _n) in enumerate(keys):
        r, c = divmod(i, cols)
        rect = pygame.Rect(x0 + s.gap + c * (kw + s.gap), top + s.gap + r * (kh + s.gap), kw, kh)
        s.button(rect, action, label, icon, fill or BUTTON)


def _waiting(s: _Screen) -> None:
    s.title("waiting")
    s.text(tr(s.flow, "waiting"), s.cap * 2, s.w // 2, s.h // 2, "message", "center", face="bold")


def _ticket(s: _Screen) -> None:
    issued = s.flow.issued or {}
    ticket, est = issued.get("ticket") or {}, issued.get("estimate") or {}
    failed = s.flow.print_status is PrintStatus.FAILED
    s.canvas.fill(pygame.Rect(0, 0, s.w, s.top), ALERT if failed else BAR)
    status = {PrintStatus.PRINTING: tr(s.flow, "printing"), PrintStatus.PRINTED: tr(s.flow, "printed"),
              PrintStatus.FAILED: tr(s.flow, "no_print")}.get(s.flow.print_status, "")
    s.text(status, s.cap, s.gap * 2, s.top // 2, "print-status", "midleft", face="bold")
    bottom = s.bottom_bar(None)
    label = str(ticket.get("label", "?"))
    service = s.flow.service(str(ticket.get("service", ""))) or {}
    hero = s.h * (30 if failed else 22) // 100  # the number alone is what the visitor must keep
    y = s.top + s.gap
    y = s.text(tr(s.flow, "your_number"), s.cap, s.w // 2, y, "label", "midtop").rect.bottom
    num = s.text(label, hero, s.w // 2, y + s.gap, "number", "midtop", face="bold")
    s.out.big_number = label if failed else ""
    y = num.rect.bottom + s.gap
    lines = [s.flow.print_note[1 if s.flow.lang == "en" else 0]] if failed and s.flow.print_note[0] else []
    lines.append(str(ticket.get("service_title", "")))
    if ticket.get("lane"):
        lines.append(f"★ {ticket['lane']}")
    windows = ", ".join(str(w) for w in service.get("windows", [])) or "—"
    lines.append(f"{tr(s.flow, 'ahead')}: {est.get('people_ahead', '—')} · {tr(s.flow, 'estimate')}: "
                 f"{est.get('text', '—')} · {tr(s.flow, 'windows')}: {windows}")
    for line in lines:
        if y + s.cap * 2 < bottom - s.target:
            y = s.text(line, s.cap, s.w // 2, y, "ticket-info", "midtop").rect.bottom + s.gap // 2
    s.grid([("done", tr(s.flow, "done"), "✓", PRIMARY, "")], 1, bottom - s.target - 2 * s.gap, bottom)


def _message(s: _Screen) -> None:
    s.canvas.fill(pygame.Rect(0, 0, s.w, s.top), ALERT)
    uk, en = s.flow.message
    s.text(en if s.flow.lang == "en" else uk, s.cap, s.gap * 2, s.top // 2, "message", "midleft", face="bold")
    s.canvas.paragraph(uk, cap_px=s.cap, role="message-uk", x=s.gap * 2, y=s.top + s.gap * 2, width=s.w - 4 * s.gap,
                       max_lines=3)
    s.canvas.paragraph(en, cap_px=s.small, role="message-en", x=s.gap * 2, y=s.h // 2, width=s.w - 4 * s.gap,
                       max_lines=3, colour=SOFT)
    s.bottom_bar("home")


def _faces(s: _Screen) -> None:
    s.title("faces_title")
    bottom = s.bottom_bar("home")
    n = len(GRADES)
    cell = max(s.target, (s.w - (n + 1) * s.gap) // n)
    height = max(s.target, min(cell, bottom - s.top - 2 * s.gap))
    for i, grade in enumerate(GRADES):
        rect = pygame.Rect(s.gap + i * (cell + s.gap), s.top + s.gap, cell, height)
        pygame.draw.rect(s.canvas.surface, FACE_COLOURS[grade], rect, border_radius=s.gap)
        _face(s.canvas.surface, rect, 1 - i / (n - 1))
        word = GRADE_EN[grade] if s.flow.lang == "en" else grade
        s.text(word, s.cap, rect.centerx, rect.bottom - s.gap, "button", "midbottom", face="bold",
               max_width=rect.width - s.gap)
        s.out.buttons.append(Button(rect, f"face:{grade}", word, "face", FACE_COLOURS[grade]))


def _face(surface: pygame.Surface, rect: pygame.Rect, mood: float) -> None:
    """A drawn face: the mouth curves up for 1.0, down for 0.0."""
    r = min(rect.width, rect.height) * 3 // 10
    c = (rect.centerx, rect.top + r + rect.height // 10)
    pygame.draw.circle(surface, INK, c, r, width=max(2, r // 10))
    for dx in (-r // 3, r // 3):
        pygame.draw.circle(surface, INK, (c[0] + dx, c[1] - r // 4), max(2, r // 9))
    mouth = pygame.Rect(0, 0, r, r // 2)
    mouth.center = (c[0], c[1] + r // 3)
    if mood >= 0.5:
        pygame.draw.arc(surface, INK, mouth, math.pi, 2 * math.pi, max(2, r // 10))
    else:
        mouth.centery += r // 5
        pygame.draw.arc(surface, INK, mouth, 0, math.pi, max(2, r // 10))


def _loyalty(s: _Screen) -> None:
    s.title("loyalty_title")
    bottom = s.bottom_bar("skip")
    cols = 11 if (s.w - s.gap) // (s.target + s.gap) >= 11 else 6
    items = [(f"loyalty:{n}", str(n), "", None, "") for n in range(11)]
    s.grid(items, cols, s.top, bottom, min_h=s.target * 2)


def _thanks(s: _Screen) -> None:
    s.title("thanks")
    s.text(tr(s.flow, "thanks"), s.cap * 2, s.w // 2, s.h // 2, "message", "center", face="bold")
    s.bottom_bar("home")


def _offline(s: _Screen) -> None:
    s.canvas.fill(pygame.Rect(0, 0, s.w, s.h), ALERT)
    s.text(tr(s.flow, "offline"), s.cap * 2, s.w // 2, s.h // 3, "message", "center", face="bold")
    s.canvas.paragraph(tr(s.flow, "offline_2"), cap_px=s.cap, role="message", x=s.gap * 2, y=s.h // 3 + s.cap * 3,
                       width=s.w - 4 * s.gap, max_lines=3)
    s.bottom_bar(None)


def _idle_warning(s: _Screen, left: int) -> None:
    box = pygame.Rect(s.gap * 2, s.h // 5, s.w - 4 * s.gap, s.h * 3 // 5)
    pygame.draw.rect(s.canvas.surface, ALERT, box, border_radius=s.gap)
    s.text(tr(s.flow, "idle"), s.cap, box.centerx, box.top + s.gap * 2, "warning", "midtop", face="bold",
           max_width=box.width - 2 * s.gap)
    s.text(tr(s.flow, "idle_left", n=left), s.cap, box.centerx, box.top + s.gap * 3 + s.cap * 2, "warning-left",
           "midtop", max_width=box.width - 2 * s.gap)
    rect = pygame.Rect(box.x + s.gap, box.bottom - s.target - s.gap, box.width - 2 * s.gap, s.target)
    s.button(rect, "more_time", tr(s.flow, "more_time"), "+", PRIMARY)
    s.out.warning = True


_DRAW = {Screen.START: _start, Screen.GROUPS: _groups, Screen.SERVICES: _services, Screen.PRIORITY: _priority,
         Screen.CHECK_IN: _check_in, Screen.WAITING: _waiting, Screen.TICKET: _ticket, Screen.MESSAGE: _message,
         Screen.RATE_FACES: _faces, Screen.RATE_LOYALTY: _loyalty, Screen.THANKS: _thanks, Screen.OFFLINE: _offline}


def speech_lines(flow: KioskFlow, layout: KioskLayout) -> list[str]:
    """What speech mode says for this screen: the title and texts, then each choice, in Ukrainian."""
    said: list[str] = []
    if flow.screen == Screen.TICKET and flow.issued:
        ticket = flow.issued.get("ticket") or {}
        with_words = " ".join(ticket_words(str(ticket.get("label", "А1"))))
        said.append(f"Ваш номер: {with_words}. {ticket.get('service_title', '')}.")
        est = flow.issued.get("estimate") or {}
        said.append(f"Перед вами {est.get('people_ahead', 0)}. Очікування {est.get('text', 'невідоме')}.")
        if flow.print_status is PrintStatus.FAILED:
            said.append(T["no_print"][0])
    elif flow.screen in (Screen.MESSAGE,):
        said.append(flow.message[0])
    elif flow.screen == Screen.OFFLINE:
        said += [T["offline"][0], T["offline_2"][0]]
    else:
        rate = flow.purpose == "rate"
        key = {Screen.START: "start", Screen.GROUPS: "rate_groups" if rate else "groups",
               Screen.SERVICES: "rate_services" if rate else "services",
               Screen.PRIORITY: "priority_title", Screen.CHECK_IN: "code_title", Screen.WAITING: "waiting",
               Screen.RATE_FACES: "faces_title", Screen.RATE_LOYALTY: "loyalty_title",
               Screen.THANKS: "thanks"}[flow.screen]
        said.append(T[key][0])
        if flow.screen == Screen.PRIORITY:
            said += [T["priority_who"][0], T["priority_check"][0]]
    choices = [b for b in layout.buttons if b.action not in ("lang", "speech")]
    for n, b in enumerate(choices, 1):
        label = _uk_label(b, flow)
        said.append(f"Кнопка {n}: {label}.")
    return [line for line in said if line.strip()]


def _uk_label(b: Button, flow: KioskFlow) -> str:
    """A button's words in Ukrainian, whatever the screen's language."""
    head, _, arg = b.action.partition(":")
    if head == "face":
        return arg
    if head == "key" and not arg.isdecimal():
        return T["key_del" if arg == "del" else "key_ok"][0]
    if head in ("group", "service", "key", "loyalty"):
        return b.label  # the queue's titles and digits are the same in both languages
    return T.get(head, (b.label, b.label))[0]
