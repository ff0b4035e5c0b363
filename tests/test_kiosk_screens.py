"""The kiosk's screens and rules as pure functions: sizes in millimetres, contrast, labels, idle, debounce."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"

import pygame  # noqa: E402

from kiosk.terminal.model import DEBOUNCE_S, KioskFlow, PrintStatus, Screen  # noqa: E402
from kiosk.terminal.style import GAP_MM, TARGET_MM, TEXT_PAIRS, contrast  # noqa: E402
from kiosk.terminal.screens import Panel, render_screen, speech_lines  # noqa: E402
from edge.screen import save_png  # noqa: E402

MENU = {"type": "menu", "cnap": "ЦНАП", "community": "Громада", "areas": [{"title": "Документи", "groups": [
    {"id": "passport", "title": "Паспорт громадянина України", "prefix": "А", "services": [
        {"id": "id-card", "title": "Оформлення ID-картки", "open": True, "windows": [1, 2],
         "estimate": {"people_ahead": 3, "text": "10–15 хв"}},
        {"id": "abroad", "title": "Закордонний паспорт", "open": False, "hours": "08:00–17:00", "windows": [2],
         "estimate": {"people_ahead": 0, "text": "—"}}]},
    {"id": "social", "title": "Соціальні послуги", "prefix": "С", "services": [
        {"id": "subsidy", "title": "Житлова субсидія", "open": True, "windows": [3],
         "estimate": {"people_ahead": 0, "text": "—"}}]}]}]}
ISSUED = {"type": "issued", "ticket": {"label": "А042", "service": "id-card", "service_title": "Оформлення ID-картки",
                                       "lane": "", "day": "2026-03-03"},
          "estimate": {"people_ahead": 4, "text": "10–15 хв"}, "status_url": "http://q/queue/ticket/x"}
PANELS = {"15.6in-1920x1080": Panel(1920, 1080, 344, 194), "7in-800x480": Panel(800, 480, 154, 86),
          "15.6in-1280x720": Panel(1280, 720, 344, 194)}


def flow_on(screen: Screen, **kw) -> KioskFlow:
    flow = KioskFlow(**kw)
    flow.link(True, 0.0)
    flow.set_menu(MENU)
    flow.screen, flow.group_id, flow.issued = screen, "passport", ISSUED
    flow.message = ("Запис із цим кодом не знайдено.", "No booking with this code.")
    flow.print_status = PrintStatus.PRINTED
    if screen == Screen.OFFLINE:
        flow.connected = False
    return flow


def every_frame():
    for panel_name, panel in PANELS.items():
        for screen in Screen:
            for lang in ("uk", "en"):
                flow = flow_on(screen)
                flow.lang = lang
                yield panel_name, panel, flow, render_screen(flow, panel, 0.0)
        warned = flow_on(Screen.GROUPS)
        warned.warning_since = 0.0
        yield panel_name, panel, warned, render_screen(warned, panel, 1.0)


def test_every_text_colour_on_every_background_has_a_contrast_of_at_least_7_to_1() -> None:
    worst = min(contrast(ink, bg) for ink, bg in TEXT_PAIRS)
    assert worst >= 7.0, worst
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)


def drawn_contrast(surface: pygame.Surface, rect: pygame.Rect) -> tuple[float, tuple, tuple]:
    """WCAG contrast of one drawn text: its background is the commonest colour in its box, its ink
    the colour there that stands out most from that background (antialiased edges only blend the two)."""
    r = rect.clip(surface.get_rect())
    box = pygame.surfarray.pixels3d(surface)[r.left:r.right, r.top:r.bottom].reshape(-1, 3).astype(np.int32)
    codes, counts = np.unique(box[:, 0] << 16 | box[:, 1] << 8 | box[:, 2], return_counts=True)
    rgb = lambda code: (int(code) >> 16, int(code) >> 8 & 255, int(code) & 255)  # noqa: E731
    bg = rgb(codes[counts.argmax()])
    ratio, ink = max((contrast(rgb(code), bg), rgb(code)) for code in codes)
    return ratio, ink, bg


def frames_with_every_fill():
    """Every screen, plus the states that paint other fills: a failed print, the priority lane, rating."""
    yield from every_frame()
    for panel_name, panel in PANELS.items():
        failed = flow_on(Screen.TICKET)
        failed.print_status, failed.print_note = PrintStatus.FAILED, ("Немає паперу", "Out of paper")
        priority = flow_on(Screen.GROUPS)
        priority.lane = "priority"
        rating = flow_on(Screen.SERVICES)
        rating.purpose = "rate"
        for flow in (failed, priority, rating):
            yield panel_name, panel, flow, render_screen(flow, panel, 0.0)


def test_every_text_as_drawn_on_every_screen_has_a_contrast_of_at_least_7_to_1() -> None:
    measured = 0
    for panel_name, panel, flow, frame in frames_with_every_fill():
        texts = frame.layout.layout.texts
        if frame.layout.warning:  # what lies under the idle warning is measured on the frame without it
            texts = texts[next(i for i, t in enumerate(texts) if t.role == "warning"):]
        for t in texts:
            if not t.text.strip():
                continue
            ratio, ink, bg = drawn_contrast(frame.surface, t.rect)
            assert ratio >= 7.0, (panel_name, flow.screen.value, flow.lang, t.role, t.text, ink, bg, round(ratio, 2))
            measured += 1
    assert measured > 500


def test_every_button_on_every_screen_and_panel_is_at_least_20_mm_square_and_labelled_in_words() -> None:
    for panel_name, panel, flow, frame in every_frame():
        target = TARGET_MM * panel.px_per_mm - 1
        buttons = frame.layout.buttons
        assert buttons or flow.screen == Screen.WAITING, (panel_name, flow.screen)
        for b in buttons:
            where = (panel_name, flow.screen.value, flow.lang, b.action)
            assert b.rect.width >= target and b.rect.height >= target, where
            assert pygame.Rect(0, 0, panel.width_px, panel.height_px).contains(b.rect), where
            words = [t for t in frame.layout.layout.texts if b.rect.contains(t.rect) and t.role != "icon"
                     and any(ch.isalnum() for ch in t.text)]
            assert words, f"{where}: icon {b.icon!r} without words"
        plain = [b for b in buttons if b.action != "more_time"]
        for i, a in enumerate(plain):  # ≥ 1 mm between targets, none overlapping
            for b in plain[i + 1:]:
                assert not a.rect.inflate(panel.mm(GAP_MM) - 2, panel.mm(GAP_MM) - 2).colliderect(b.rect), \
                    (panel_name, flow.screen.value, a.action, b.action)


def test_a_png_of_every_screen_shows_its_buttons_and_words(tmp_path: Path) -> None:
    seen = set()
    for panel_name, panel, flow, frame in every_frame():
        if panel_name != "15.6in-1280x720" or flow.lang != "uk":
            continue
        path = save_png(frame.surface, tmp_path / f"{flow.screen.value}{'-idle' if frame.layout.warning else ''}.png")
        image = pygame.image.load(str(path))
        assert image.get_size() == (1280, 720)
        for b in frame.layout.buttons:  # the button's own colour just inside its corner
            x, y = b.rect.left + b.rect.width // 2, b.rect.top + 3
            assert tuple(image.get_at((x, y)))[:3] == b.fill, (flow.screen, b.action)
        assert frame.layout.text().strip(), flow.screen
        ink = sum(1 for x in range(0, 1280, 8) for y in range(0, 720, 8) if image.get_at((x, y))[0] > 200)
        assert ink > 20, (flow.screen, ink)  # white text is really there
        seen.add(frame.layout.screen)
    assert seen == {s.value for s in Screen}


def test_the_ticket_screen_shows_number_people_ahead_estimate_and_windows() -> None:
    frame = render_screen(flow_on(Screen.TICKET), PANELS["15.6in-1920x1080"], 0.0)
    text = frame.layout.text()
    assert "А042" in text and "Перед вами: 4" in text and "10–15 хв" in text and "Вікна: 1, 2" in text
    number = frame.layout.find("А042")[0]
    assert number.cap_px >= 0.2 * 1080


def test_the_priority_screen_states_its_conditions_before_the_choice() -> None:
    frame = render_screen(flow_on(Screen.PRIORITY), PANELS["15.6in-1920x1080"], 0.0)
    conditions = " ".join(t.text for t in frame.layout.layout.by_role("conditions"))
    assert "інвалідністю" in conditions and "біля вікна" in conditions and "Один пільговий талон" in conditions
    assert frame.layout.button("priority_go")


def test_a_double_tap_on_a_service_asks_the_queue_once() -> None:
    flow = flow_on(Screen.SERVICES)
    flow.screen_since = 0.0
    first = flow.tap("service:id-card", 5.0)
    assert first is not None and first.message["type"] == "issue" and first.message["lane"] == "walk_in"
    assert flow.tap("service:id-card", 5.12) is None and flow.screen == Screen.WAITING
    assert flow.tap("service:id-card", 9.0) is None  # still waiting: never a second request
    assert flow.answer({**ISSUED, "id": first.id}, 9.1) is True and flow.tickets_issued == 1


def test_an_answer_to_a_request_given_up_shows_nothing() -> None:
    flow = flow_on(Screen.SERVICES)
    request = flow.tap("service:id-card", 5.0)
    flow.tick(5.0 + 9.0)
    assert flow.screen == Screen.MESSAGE and "не видано" in flow.message[0]
    assert flow.answer({**ISSUED, "id": request.id}, 15.0) is False and flow.screen == Screen.MESSAGE


def test_idle_warns_then_gives_20_seconds_then_returns_to_the_start_in_ukrainian() -> None:
    flow = flow_on(Screen.START, idle_s=60.0, warning_s=20.0)
    flow.screen_since = 0.0
    flow.tap("lang", 1.0)
    flow.tap("take", 2.0)
    assert flow.screen == Screen.GROUPS and flow.lang == "en"
    flow.tick(61.9)
    assert flow.warning_left(61.9) is None
    flow.tick(62.0)
    assert flow.warning_left(62.0) == 20
    frame = render_screen(flow, PANELS["15.6in-1280x720"], 70.0)
    assert frame.layout.warning and frame.layout.find("Back to the start in 12 s")
    flow.tick(81.9)
    assert flow.screen == Screen.GROUPS
    flow.tick(82.0)
    assert flow.screen == Screen.START and flow.lang == "uk"


def test_a_touch_during_the_warning_gives_more_time_and_is_not_taken_as_a_choice() -> None:
    flow = flow_on(Screen.START, idle_s=60.0)
    flow.screen_since = 0.0
    flow.tap("take", 1.0)
    flow.tick(61.0)
    assert flow.warning_since is not None
    assert flow.tap("group:passport", 70.0) is None and flow.screen == Screen.GROUPS
    assert flow.warning_since is None
    flow.tick(125.0)
    assert flow.warning_since is None and flow.screen == Screen.GROUPS


def test_check_in_keypad_builds_the_code_and_confirms_it() -> None:
    flow = flow_on(Screen.START)
    flow.screen_since = 0.0
    flow.tap("check_in", 1.0)
    for i, key in enumerate("4829133"):
        flow.tap(f"key:{key}", 2.0 + i)
    flow.tap("key:del", 10.0)
    request = flow.tap("key:ok", 11.0)
    assert request is not None and request.message == {"type": "check_in", "code": "482913", "id": request.id}


def test_speech_reads_the_screen_and_each_choice_in_ukrainian_even_when_the_screen_is_english() -> None:
    flow = flow_on(Screen.START)
    flow.lang = "en"
    frame = render_screen(flow, PANELS["15.6in-1280x720"], 0.0)
    said = speech_lines(flow, frame.layout)
    assert said[0] == "Оберіть, що вам потрібно"
    assert "Кнопка 1: Взяти талон." in said and "Кнопка 2: Пільгова черга." in said
    ticket = flow_on(Screen.TICKET)
    said = speech_lines(ticket, render_screen(ticket, PANELS["15.6in-1280x720"], 0.0).layout)
    assert said[0].startswith("Ваш номер: а сорок два.")


def test_without_the_queue_nothing_can_be_asked() -> None:
    flow = flow_on(Screen.START)
    flow.link(False, 1.0)
    assert flow.screen == Screen.OFFLINE
    assert flow.tap("take", 5.0) is None and flow.screen == Screen.OFFLINE
    flow.link(True, 6.0)
    assert flow.screen == Screen.START
