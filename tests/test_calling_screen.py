"""The calling screen: each state drawn headless and read back; the role fed by a real queue, speaking.

Every state is drawn at 1920×1080 and 1280×720 and checked through the
layout record (what text, how tall, where) and pixel samples, as a visitor
5 m away would read the screen. Then a real hub, queue node and calling
screen node run on loopback: a call at a window appears large, is spoken
into a WAV file, and losing the queue is said on screen.
"""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"

import itertools  # noqa: E402
import math  # noqa: E402
import wave  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pygame  # noqa: E402
import pytest  # noqa: E402

from edge.config import ConfigError  # noqa: E402
from kiosk.calling.service import board_problem  # noqa: E402
from kiosk.calling.settings import CallingSettings, load_settings  # noqa: E402
from kiosk.calling.screen import (  # noqa: E402
    HERO_BG, LINK_LOST, LINK_LOST_TEXT, PAUSED, PRIORITY, TIER_EN, TIER_HERO, TIER_LABEL, TIER_ROW, render_frame,
)
from kiosk.speech import call_tokens  # noqa: E402
from kiosk.voice import ClipLibrary  # noqa: E402
from tests.conftest import HubFixture, wait_until  # noqa: E402
from tests.test_queue_service import Cnap, queue_settings  # noqa: E402
from tests.test_queue_voice import clips, read_wav  # noqa: E402,F401 (fixture)

SIZES = [(1920, 1080), (1280, 720)]
TIER_OF_ROLE = {"hero": TIER_HERO, "row": TIER_ROW, "pause": TIER_ROW, "message": TIER_ROW,
                "pause-reason": TIER_LABEL, "hero-label": TIER_LABEL, "lane": TIER_LABEL, "label": TIER_LABEL,
                "clock": TIER_LABEL, "cnap": TIER_LABEL, "footer": TIER_LABEL, "waiting": TIER_LABEL,
                "english": TIER_EN}


def call(label: str, window: int, priority: bool = False, repeat: bool = False, minute: int = 0) -> dict[str, Any]:
    return {"label": label, "window": window, "at": f"2026-03-03T08:{minute:02d}:00.000Z", "priority": priority,
            "repeat": repeat, "lane": "Пільгова черга" if priority else ""}


CALLS = [call("А042", 3, minute=9), call("П002", 1, priority=True, minute=8), call("Р017", 2, minute=7),
         call("А041", 2, minute=6), call("С005", 3, minute=5), call("Г010", 1, minute=4), call("А040", 1, minute=3),
         call("Р016", 2, minute=2), call("А039", 3, minute=1)]


def board(calls: list[dict[str, Any]] = CALLS, pause: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "board", "seq": 7, "at": "2026-03-03T08:10:00.000Z", "cnap": "ЦНАП Тестівської громади",
            "community": "Тестівська сільська територіальна громада", "day": "2026-03-03", "pause": pause,
            "calls": calls, "windows": [], "waiting": 17}


ALERT = {"reason": "повітряна тривога", "note": "усі до укриття", "since": "2026-03-03T08:09:00.000Z",
         "text": "Обслуговування призупинено: повітряна тривога (усі до укриття)"}
STATES = {
    "calls": (board(), True, ["А042 → Вікно 3", "Запрошується", "Попередні виклики", "★ П002 → Вікно 1",
                              "У черзі: 17", "ЦНАП Тестівської громади", "08:10"]),
    "paused": (board(pause=ALERT), True, ["ОБСЛУГОВУВАННЯ ПРИЗУПИНЕНО", "Повітряна тривога (усі до укриття)",
                                          "А042 → Вікно 3"]),
    "idle": (board(calls=[]), True, ["Очікуйте виклику", "Please wait to be called"]),
    "idle-paused": (board(calls=[], pause=ALERT), True, ["ОБСЛУГОВУВАННЯ ПРИЗУПИНЕНО", "Очікуйте виклику"]),
    "disconnected": (board(), False, [LINK_LOST_TEXT, "No connection to the queue"]),
    "no_data": (None, True, ["Очікування даних від черги"]),
}


def close_to(pixel: Any, colour: tuple[int, int, int], tolerance: int = 10) -> bool:
    return all(abs(int(pixel[i]) - colour[i]) <= tolerance for i in range(3))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}p")
@pytest.mark.parametrize("name", list(STATES))
def test_every_state_is_readable_from_5_m_and_nothing_overlaps_or_leaves_the_screen(size: tuple[int, int],
                                                                                   name: str) -> None:
    snap, connected, expected = STATES[name]
    frame = render_frame(snap, size, connected, "08:10")
    layout, (w, h) = frame.layout, size
    drawn = layout.text()
    for words in expected:
        assert words in drawn, f"{words!r} missing from the {name} screen"
    screen = pygame.Rect(0, 0, w, h)
    for item in layout.texts:
        assert screen.contains(item.rect), f"{item.text!r} leaves the screen"
        assert item.role in TIER_OF_ROLE, f"text role {item.role!r} has no size rule"
        assert item.cap_px >= math.ceil(h * TIER_OF_ROLE[item.role]) - 1, f"{item.text!r} is too small"
        assert "…" not in item.text, f"{item.text!r} was cut"
    for a, b in itertools.combinations(layout.texts, 2):
        assert not a.rect.colliderect(b.rect), f"{a.text!r} overlaps {b.text!r}"


def test_the_newest_call_is_the_largest_text_with_capitals_about_100_mm_on_a_55_inch_panel() -> None:
    frame = render_frame(board(), (1920, 1080), True, "08:10")
    (hero,) = frame.layout.by_role("hero")
    assert hero.text == "А042 → Вікно 3"
    assert hero.cap_px == max(t.cap_px for t in frame.layout.texts)
    assert hero.cap_px / 1080 * 685 >= 95  # mm on a 55″ 16:9 panel, 0.685 m high
    assert close_to(frame.surface.get_at((hero.rect.left - 4, hero.rect.centery)), HERO_BG)


def test_a_priority_call_is_labelled_in_words_and_a_star_not_by_colour_alone() -> None:
    frame = render_frame(board([call("П003", 2, priority=True), *CALLS]), (1920, 1080), True, "08:10")
    layout = frame.layout
    hero = layout.by_role("hero")[0]
    assert hero.text == "П003 → Вікно 2" and close_to(frame.surface.get_at((4, hero.rect.centery)), PRIORITY)
    assert [t.text for t in layout.by_role("lane")] == ["★ Пільгова черга", "★ — пільгова черга"]
    row = next(t for t in layout.by_role("row") if "П002" in t.text)
    assert row.text.startswith("★ ") and close_to(frame.surface.get_at((row.rect.left - 6, row.rect.top + 4)),
                                                    PRIORITY)
    plain = next(t for t in layout.by_role("row") if "А041" in t.text)
    assert not close_to(frame.surface.get_at((plain.rect.left - 6, plain.rect.top + 4)), PRIORITY, 40)


def test_earlier_calls_read_down_then_across_and_a_recall_does_not_repeat_a_line() -> None:
    recalled = [call("Р017", 2, repeat=True, minute=10), *CALLS]
    layout = render_frame(board(recalled), (1920, 1080), True, "08:10").layout
    assert layout.by_role("hero")[0].text == "Р017 → Вікно 2"
    assert "Повторний виклик" in layout.by_role("lane")[0].text
    rows = [t.text.removeprefix("★ ") for t in layout.by_role("row")]
    assert rows[:4] == ["А042 → Вікно 3", "П002 → Вікно 1", "А041 → Вікно 2", "С005 → Вікно 3"]
    assert not any(r.startswith("Р017") for r in rows)
    left = [t for t in layout.by_role("row") if t.rect.left < 960]
    assert [t.rect.top for t in left] == sorted(t.rect.top for t in left) and len(left) == 4


def test_the_pause_banner_covers_the_width_in_its_colour_with_the_reason() -> None:
    frame = render_frame(board(pause=ALERT), (1280, 720), True, "08:10")
    banner = frame.layout.by_role("pause")[0]
    for x in (3, 640, 1276):
        assert close_to(frame.surface.get_at((x, banner.rect.top + 2)), PAUSED)
    assert frame.layout.by_role("pause-reason")[0].text == "Повітряна тривога (усі до укриття)"


def test_losing_the_queue_shows_no_stale_call_and_says_so() -> None:
    frame = render_frame(board(), (1920, 1080), False, "08:10")
    layout = frame.layout
    assert layout.state == "disconnected" and layout.find(LINK_LOST_TEXT)
    assert not layout.by_role("hero") and not layout.by_role("row") and not layout.find("А042")
    assert close_to(frame.surface.get_at((960, 540)), LINK_LOST)


@pytest.mark.parametrize("bad, why", [
    ({"type": "hall"}, "not a board"),
    ({"type": "board", "calls": "А042"}, "calls must be a list"),
    ({"type": "board", "calls": [{"label": "А042", "window": "3"}]}, "window number"),
    ({"type": "board", "calls": [], "pause": "yes"}, "pause"),
])
def test_a_malformed_board_is_refused(bad: dict[str, Any], why: str) -> None:
    assert why in (board_problem(bad) or "")
    assert board_problem(board()) is None


def test_settings_are_checked_and_documented() -> None:
    assert load_settings({}, "x.toml") == CallingSettings()
    with pytest.raises(ConfigError, match="audio"):
        load_settings({"audio": "loud"}, "x.toml")
    with pytest.raises(ConfigError, match="height"):
        load_settings({"height": 100}, "x.toml")


async def test_a_call_at_a_window_appears_large_is_spoken_and_a_lost_queue_is_said_on_screen(
        hub: HubFixture, node_factory, tmp_path: Path, clips: ClipLibrary) -> None:
    queue = await node_factory("cnap-queue", hub.url, hub.code(role="queue", site="cnap"), roles=["queue"],
                               site="cnap", extra=queue_settings(tmp_path))
    pngs, wavs = tmp_path / "png", tmp_path / "wav"
    screen_settings = (f'[roles.queue-display]\nqueue_url = "{queue.server.url}"\nwidth = 1280\nheight = 720\n'
                       f'fullscreen = false\npng_dir = "{pngs}"\naudio = "file"\nwav_dir = "{wavs}"\n'
                       f'voice_dir = "{clips.directory}"\n')
    screen_node = await node_factory("cnap-screen", hub.url, hub.code(role="queue-display", site="cnap"),
                                     roles=["queue-display"], site="cnap", extra=screen_settings)
    display = screen_node.roles[0]
    await wait_until(lambda: display.connected, timeout=15, what="screen connected to the queue")
    shown = lambda: display.screen.last_layout  # noqa: E731
    await wait_until(lambda: shown() and shown().state == "idle", what="the idle screen")
    cnap = Cnap(queue.server.url, queue.config.state_dir)
    await cnap.act(2, "open")
    await cnap.issue("residence")
    await cnap.issue("residence", lane="priority")
    await cnap.act(2, "call-next")
    hero = await wait_until(lambda: shown() and shown().by_role("hero"), what="the call on screen")
    assert hero[0].text == "П001 → Вікно 2" and "★ Пільгова черга" in shown().text()
    assert (pngs / "current.png").exists() and any("П001" in p.name for p in pngs.glob("*.png"))
    await wait_until(lambda: (wavs / "last-call.wav").exists() and display.announcer.spoken, timeout=10,
                     what="the spoken call")
    words, path = display.announcer.spoken[-1]
    assert words == "талон пе один, вікно номер два"
    _, frames = read_wav(path)
    assert frames == clips.stitch(call_tokens("П001", 2)).frames
    with wave.open(str(path)) as w:
        assert 1.5 < w.getnframes() / w.getframerate() < 5.0
    await cnap.act(2, "recall")
    await wait_until(lambda: len(display.announcer.spoken) == 2, what="the recall spoken")
    assert display.announcer.spoken[-1][0].startswith("повторний виклик, талон пе один")
    await queue.stop()
    await wait_until(lambda: shown().state == "disconnected", timeout=15, what="screen notices the queue is gone")
    assert shown().find(LINK_LOST_TEXT) and not shown().find("П001")
    assert display.health()["voice"] == "ready"


def test_the_calling_screen_shows_the_time_of_the_configured_zone_not_the_boards(monkeypatch) -> None:
    # A board imaged in UTC, in a Kyiv ЦНАП: the clock on the calling screen must read Kyiv time.
    import time as _time
    from datetime import datetime, timezone

    from edge.clock import Clock
    from kiosk.calling.service import CallingScreen, ScreenUpdate

    monkeypatch.setenv("TZ", "UTC")
    _time.tzset()
    try:
        at = datetime(2026, 12, 4, 7, 30, tzinfo=timezone.utc).timestamp()
        screen = CallingScreen((640, 360), False, None, Clock("Europe/Kyiv", source=lambda: at))
        frame = screen.render(ScreenUpdate(None, False), (640, 360))
        assert [t.text for t in frame.layout.by_role("clock")] == ["09:30"]
    finally:
        monkeypatch.undo()
        _time.tzset()
