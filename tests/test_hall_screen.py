"""The hall screen: what each state shows, how big, where; and the role that feeds it.

Headless (SDL dummy driver). Every state is drawn at 1920×1080 and 1280×720
for councils of 64 and 120 deputies, and read back through the layout
record and pixel samples, as a person in the hall would read the screen.
"""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"

import asyncio  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pygame  # noqa: E402
import pygame.freetype  # noqa: E402
import pytest  # noqa: E402
from aiohttp import web  # noqa: E402

from edge.config import ConfigError  # noqa: E402
from edge.identity import Identity  # noqa: E402
from edge.peers import NonceCache, PeerConnection, accept_peer  # noqa: E402
from tests.conftest import wait_until  # noqa: E402
from voting.display.service import HallDisplay, hall_now, snapshot_problem  # noqa: E402
from voting.display.settings import HallDisplaySettings, load_settings  # noqa: E402
from voting.protocol import SCREEN_PATH  # noqa: E402
from voting.display.screen import LINK_LOST_TEXT, render_frame, save_png  # noqa: E402
from edge.uk import plural  # noqa: E402
from edge.draw import FACES  # noqa: E402
from edge.fonts import FONT_DIR  # noqa: E402
from voting.display.layout import (  # noqa: E402
    RESULT_STYLES, TIER_A, TIER_B, TIER_C, TIER_EN, short_name,
)

SIZES = [(1920, 1080), (1280, 720)]
COUNCILS = [64, 120]
SURNAMES = ["Коваленко", "Шевченко", "Дем'янчук", "Ґудзь", "Їжакевич", "Єременко", "Іваненко",
            "Костянтинопольська-Заїка", "Олійник", "Пʼятничук"]
FIRST = ["Олександр", "Ірина", "Євген", "Ґалина", "Юрій", "Оксана"]
PATRONYMIC = ["Петрович", "Іванівна", "Богданович", "Степанівна"]
ORDER = ["За", "Проти", "Утримався", "Не голосував", "Відсутній"]
TITLE = ("Про затвердження Програми розвитку громади на 2027–2029 роки та внесення змін до бюджету "
         "Тестівської сільської територіальної громади на 2026 рік")

# Every text role drawn, with the smallest capital height its size rule allows (docs/hall-screen.md).
TIER_OF_ROLE = {
    "outcome": TIER_A, "voted": TIER_A, "registered": TIER_A, "countdown": TIER_A, "count": TIER_A,
    "heading": TIER_B, "title": TIER_B, "question-number": TIER_B, "rule": TIER_B, "threshold": TIER_B,
    "quorum": TIER_B, "composition": TIER_B, "council": TIER_B, "date": TIER_B, "reason": TIER_B, "label": TIER_B,
    "grid-name": TIER_C, "count-label": TIER_C, "footer": TIER_C, "clock": TIER_C, "project": TIER_C,
    "note": TIER_C, "rule-note": TIER_C, "countdown-label": TIER_C,
    "english": TIER_EN,
}


def roll_call(n: int) -> list[dict[str, str]]:
    return [{"id": f"d{i:03d}", "name": f"{SURNAMES[i % 10]} {FIRST[i % 6]} {PATRONYMIC[i % 4]}",
             "result": ORDER[i % 5]} for i in range(n)]


def snapshot(state: str, n: int = 64, *, counts: dict[str, int] | None = None, outcome: str = "Прийнято",
             closes_in_s: float | None = 57.0) -> dict[str, Any]:
    at = datetime(2026, 11, 22, 10, 15, 3, 120000, tzinfo=timezone.utc)
    total = n + 1  # the head takes part
    snap: dict[str, Any] = {
        "type": "hall", "seq": 17, "at": at.isoformat().replace("+00:00", "Z"),
        "council": "Тестівська сільська рада", "date": "2026-11-22", "convocation": 8, "session": 12,
        "state": state, "registration_open": state == "registration", "registered": n - 7,
        "total_composition": total, "quorum_required": total // 2 + 1, "quorum_met": True,
        "vote": None, "result": None, "cancelled": None,
    }
    threshold = total // 2 + 1
    if state == "vote_open":
        snap["vote"] = {"uid": "2026-11-22-5", "number": 5, "title": TITLE, "project_number": "123",
                        "rule_text": "більшість від загального складу ради", "threshold": threshold,
                        "opened_at": "2026-11-22T10:14:03.000Z",
                        "closes_at": (at + timedelta(seconds=closes_in_s)).isoformat() if closes_in_s else None,
                        "voted": 18, "eligible": n - 7, "counts": counts}
    if state == "result":
        rc = roll_call(n)
        snap["result"] = {"uid": "2026-11-22-5", "number": 5, "title": TITLE, "outcome": outcome,
                          "threshold": threshold, "rule_text": "більшість від загального складу ради",
                          "closed_at": "2026-11-22T10:16:00.000Z",
                          "counts": {k: sum(e["result"] == k for e in rc) for k in ORDER}, "roll_call": rc}
    if state == "cancelled":
        snap["cancelled"] = {"uid": "2026-11-22-5", "number": 5, "title": TITLE,
                             "reason": "Збій консолі на місці 14; голосування буде повторено"}
    return snap


def close_to(pixel: Any, colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(int(pixel[i]) - colour[i]) <= tolerance for i in range(3))


EXPECTED_TEXT = {
    "waiting": ["Пленарне засідання", "Зареєстровано", "з", "Кворум", "Загальний склад ради"],
    "registration": ["Реєстрація депутатів", "Зареєстровано", "Кворум"],
    "vote_open": ["Голосування триває", "Питання № 5", "Про затвердження", "більшість від загального складу ради",
                  "Проголосували:", "18 з", "0:57"],
    "result": ["ПРИЙНЯТО", "потрібно «за»", "✓ За", "✗ Проти", "○ Утримався", "– Не голосував", "· Відсутній",
               "Питання № 5."],
    "cancelled": ["Голосування скасовано", "Питання № 5", "Причина: Збій консолі"],
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}p")
@pytest.mark.parametrize("n", COUNCILS)
@pytest.mark.parametrize("state", list(EXPECTED_TEXT))
def test_every_state_is_readable_by_the_size_rules_and_nothing_overlaps(size: tuple[int, int], n: int,
                                                                       state: str) -> None:
    frame = render_frame(snapshot(state, n), size, True, "10:15:03")
    layout, (w, h) = frame.layout, size
    assert layout.state == state
    assert frame.surface.get_size() == size
    drawn = layout.text()
    for words in EXPECTED_TEXT[state]:
        assert words in drawn, f"{words!r} missing from the {state} screen"
    assert layout.find("10:15:03") and layout.find("Тестівська сільська рада")
    screen = pygame.Rect(0, 0, w, h)
    footer_top = math.floor(h * 0.955)
    for item in layout.texts:
        assert screen.contains(item.rect), f"{item.text!r} leaves the screen"
        base = item.role.split(":")[0]
        assert base in TIER_OF_ROLE, f"text role {item.role!r} has no size rule"
        assert item.cap_px >= math.ceil(h * TIER_OF_ROLE[base]) - 1, f"{item.text!r} is too small"
        if item.role not in ("footer", "clock"):
            assert item.rect.bottom <= footer_top, f"{item.text!r} runs into the footer"
    for a, b in itertools.combinations([t for t in layout.texts if t.role != "grid-name"], 2):
        assert not a.rect.colliderect(b.rect), f"{a.text!r} overlaps {b.text!r}"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}p")
@pytest.mark.parametrize("n", COUNCILS)
def test_result_grid_names_every_deputy_with_colour_and_symbol(size: tuple[int, int], n: int) -> None:
    snap = snapshot("result", n)
    frame = render_frame(snap, size, True, "10:15:03")
    cells, (w, h) = frame.layout.cells, size
    assert [c.deputy_id for c in cells] == [e["id"] for e in snap["result"]["roll_call"]]
    title_bottom = max(t.rect.bottom for t in frame.layout.by_role("rule-note"))
    for cell, entry in zip(cells, snap["result"]["roll_call"]):
        style = RESULT_STYLES[entry["result"]]
        assert (cell.result, cell.symbol, cell.colour) == (entry["result"], style.symbol, style.fill)
        assert cell.rect.top > title_bottom and cell.rect.bottom <= h * 0.955 and cell.rect.right <= w
        assert cell.label.split()[0][:4] == entry["name"].split()[0][:4], "the surname leads every label"
        assert cell.name_cap_px >= math.ceil(h * TIER_C) - 1
        # The colour, sampled away from the symbol, and the symbol itself, drawn in the square.
        assert close_to(frame.surface.get_at((cell.swatch.x + 2, cell.swatch.y + 2)), style.fill)
        square = cell.swatch
        inked = sum(close_to(frame.surface.get_at((x, y)), style.ink, 60)
                    for x in range(square.left, square.right) for y in range(square.top, square.bottom))
        assert inked >= 2, f"no symbol drawn for {entry['result']}"
    for a, b in itertools.combinations(cells, 2):
        assert not a.rect.colliderect(b.rect)
    full = [c for c in cells if c.label == short_name(c.name)]
    assert len(full) >= 0.75 * n, "most names keep the surname and both initials"


def test_names_are_shortened_to_surname_and_initials_keeping_ukrainian_letters() -> None:
    assert short_name("Дем'янчук Ґалина Їжаківна") == "Дем'янчук Ґ. Ї."
    assert short_name("Єременко  Ірина") == "Єременко І."
    assert short_name("Шевченко Т. Г.") == "Шевченко Т. Г."
    long_cell = next(c for c in render_frame(snapshot("result", 120), (1280, 720), True, "").layout.cells
                     if c.name.startswith("Костянтинопольська"))
    assert long_cell.label.endswith("… І. С."), "a cut surname keeps its initials"


@pytest.mark.parametrize("outcome, colour", [("Прийнято", RESULT_STYLES["За"].fill),
                                             ("Не прийнято", RESULT_STYLES["Проти"].fill)])
def test_outcome_is_written_in_words_on_its_colour(outcome: str, colour: tuple[int, int, int]) -> None:
    frame = render_frame(snapshot("result", 64, outcome=outcome), (1920, 1080), True, "")
    (word,) = frame.layout.by_role("outcome")
    assert word.text == outcome.upper()
    assert close_to(frame.surface.get_at((4, 4)), colour)
    za = frame.layout.by_role("count:За")[0]
    assert za.text == str(sum(e["result"] == "За" for e in roll_call(64)))


def test_losing_the_hall_hides_the_last_result() -> None:
    stale = snapshot("result", 64)
    frame = render_frame(stale, (1920, 1080), False, "10:20:00")
    layout = frame.layout
    assert layout.state == "disconnected"
    assert layout.find(LINK_LOST_TEXT) and layout.find("No connection to the hall")
    assert not layout.cells
    assert not [t for t in layout.texts if "ПРИЙНЯТО" in t.text or "Про затвердження" in t.text]
    assert not [t for t in layout.texts if t.role.startswith(("count:", "count-label"))]
    assert not close_to(frame.surface.get_at((4, 4)), RESULT_STYLES["За"].fill, 30)


def test_choices_stay_hidden_while_voting_unless_the_council_shows_them() -> None:
    hidden = render_frame(snapshot("vote_open", 64), (1280, 720), True, "").layout
    assert not [t for t in hidden.texts if t.role.startswith(("count:", "count-label"))]
    assert hidden.find("після завершення голосування")
    shown = render_frame(snapshot("vote_open", 64, counts={"За": 9, "Проти": 4, "Утримався": 2}), (1280, 720),
                         True, "").layout
    assert [t.text for t in shown.texts if t.role.startswith("count:")] == ["9", "4", "2"]


def test_countdown_runs_on_the_halls_clock() -> None:
    snap = snapshot("vote_open", 64, closes_in_s=60.0)
    at = datetime.fromisoformat(snap["at"])
    def countdown(after_s: float) -> str:
        return render_frame(snap, (1280, 720), True, "", at + timedelta(seconds=after_s)).layout.by_role("countdown")[0].text

    assert countdown(14.5) == "0:46", "rounded up: a second is shown until it has passed"
    assert countdown(90) == "0:00"
    untimed = render_frame(snapshot("vote_open", 64, closes_in_s=None), (1280, 720), True, "").layout
    assert not untimed.by_role("countdown")
    # The display estimates the hall's clock from the snapshot, never from its own.
    assert hall_now(snap, received=100.0, now_mono=103.0) == at + timedelta(seconds=3)


def test_font_has_every_ukrainian_letter_apostrophe_and_symbol() -> None:
    letters = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯабвгґдеєжзиіїйклмнопрстуфхцчшщьюя'ʼ’«»№–…✓✗○·"
    for face, file in FACES.items():
        # freetype tells a missing glyph (None) from the font's placeholder box.
        pygame.freetype.init()
        f = pygame.freetype.Font(str(FONT_DIR / file), 40)
        missing = [c for c, m in zip(letters, f.get_metrics(letters)) if m is None]
        assert not missing, f"{face} lacks {missing}"
        assert f.get_metrics("漢") == [None], "the check must be able to fail"
    assert (Path(__file__).parent.parent / "edge" / "fonts" / "LICENSE-DejaVu.txt").exists()


def test_ukrainian_plural_of_votes() -> None:
    assert [plural(n, "голос", "голоси", "голосів") for n in (1, 2, 5, 11, 14, 21, 22, 25, 111)] == [
        "голос", "голоси", "голосів", "голосів", "голосів", "голос", "голоси", "голосів", "голосів"]


def test_png_holds_what_the_screen_shows(tmp_path: Path) -> None:
    frame = render_frame(snapshot("result", 64), (1280, 720), True, "")
    path = save_png(frame.surface, tmp_path / "minutes" / "result.png")
    back = pygame.image.load(str(path))
    assert back.get_size() == (1280, 720)
    assert close_to(back.get_at((4, 4)), RESULT_STYLES["За"].fill)
    assert not list(path.parent.glob(".screen-*")), "no temporary file left behind"


def test_settings_are_checked_and_named_in_errors() -> None:
    settings = load_settings({}, "node.toml")
    assert (settings.hall_url, settings.width, settings.height, settings.fullscreen, settings.png_dir) == (
        "", 1920, 1080, True, "")
    with pytest.raises(ConfigError, match=r"roles\.hall-display\.height: must be at least 360"):
        load_settings({"height": 200}, "node.toml")
    with pytest.raises(ConfigError, match=r"roles\.hall-display\.colour: unknown key"):
        load_settings({"colour": "red"}, "node.toml")
    with pytest.raises(ConfigError, match=r"hall_url: must start with http"):
        load_settings({"hall_url": "hall.local"}, "node.toml")


def test_a_malformed_snapshot_is_named_and_refused() -> None:
    assert snapshot_problem(snapshot("result")) is None
    assert "unknown state" in (snapshot_problem({**snapshot("waiting"), "state": "party"}) or "")
    assert "needs 'result'" in (snapshot_problem({**snapshot("waiting"), "state": "result"}) or "")
    assert "registered" in (snapshot_problem({**snapshot("waiting"), "registered": "20"}) or "")


# --- the role against a real hall socket ---------------------------------------------


class FakeHall:
    """A hall's screen endpoint: real signed handshake and sealed messages, snapshots pushed by the test."""

    def __init__(self, identity: Identity, screen: Identity) -> None:
        self.identity = identity
        self.screen = screen
        self.connections: list[PeerConnection] = []
        self.nonces = NonceCache()

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        conn = await accept_peer(request, self.identity,
                                 lambda nid: self.screen.public_key_b64 if nid == self.screen.id else None, self.nonces)
        self.connections.append(conn)
        async for _ in conn.messages():
            pass
        return conn.ws


async def test_display_shows_snapshots_drops_them_on_disconnect_and_reconnects(tmp_path: Path,
                                                                             aiohttp_server: Any) -> None:
    hall_id = Identity.load_or_create(tmp_path / "hall")
    screen_id = Identity.load_or_create(tmp_path / "screen")
    hall = FakeHall(hall_id, screen_id)
    app = web.Application()
    app.router.add_get(SCREEN_PATH, hall.handler)
    server = await aiohttp_server(app)
    base = str(server.make_url("/")).rstrip("/")

    async def url_of() -> str:
        return base

    png_dir = tmp_path / "png"
    settings = HallDisplaySettings(hall_url=base, width=1280, height=720, fullscreen=False, png_dir=str(png_dir))
    display = HallDisplay(screen_id, settings, url_of,
                          lambda nid: hall_id.public_key_b64 if nid == hall_id.id else None)

    def showing() -> str | None:
        layout = display.screen.last_layout
        return layout.state if layout else None

    await display.start()
    try:
        await wait_until(lambda: hall.connections and showing() == "no_data", what="the first connection")
        await hall.connections[0].send(snapshot("result", 64))
        await wait_until(lambda: showing() == "result", what="the result")
        assert not display.screen.window, "headless under the dummy driver"
        png = await wait_until(lambda: next(iter(png_dir.glob("result-2026-11-22-5.png")), None), what="the PNG")
        assert close_to(pygame.image.load(str(png)).get_at((4, 4)), RESULT_STYLES["За"].fill)

        await hall.connections[0].send({**snapshot("waiting"), "state": "party"})
        await wait_until(lambda: display.rejected == 1, what="the bad snapshot refused")
        assert showing() == "result", "a bad snapshot changes nothing"

        await hall.connections[0].ws.close()
        await wait_until(lambda: showing() == "disconnected", what="the lost link shown")
        assert not display.screen.last_layout.find("ПРИЙНЯТО")
        assert (png_dir / "current.png").exists()

        await wait_until(lambda: len(hall.connections) == 2 and display.connected, what="a reconnect by itself")
        await wait_until(lambda: showing() == "no_data", what="a clean screen after the reconnect")
        await hall.connections[1].send(snapshot("vote_open", 64))
        await wait_until(lambda: showing() == "vote_open", what="the new vote")
        assert display.health()["connected"] and display.health()["hall"] == hall_id.id
    finally:
        await display.stop()
    assert not display.screen.is_alive()


async def test_role_factory_needs_a_hall_address_without_mdns(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from edge.metrics import Metrics
    from edge.clock import Clock
    from voting.display.role import create

    def ctx(table: dict[str, Any]) -> Any:
        return SimpleNamespace(role_config=table, config=SimpleNamespace(path="node.toml"), discovery=None,
                               identity=Identity.load_or_create(tmp_path), metrics=Metrics(),
                               hub=SimpleNamespace(roster=[], clock_offset_s=None), clock=Clock())

    with pytest.raises(ConfigError, match=r"roles\.hall-display\.hall_url: is required when \[discovery\] is disabled"):
        await create(ctx({}))
    made = ctx({"hall_url": "http://127.0.0.1:9"})
    role = await create(made)
    assert role.name == "hall-display" and await role.client.url_of() == "http://127.0.0.1:9"
    assert "hromada_hall_display_connected 0" in made.metrics.render()


def test_a_burst_of_ballots_is_drawn_once_but_no_result_is_skipped() -> None:
    from voting.display.service import ScreenUpdate, ScreenWorker

    worker = ScreenWorker((1280, 720), False, None)
    ballots = [{**snapshot("vote_open"), "seq": i} for i in range(5)]
    for snap in [*ballots, snapshot("result"), snapshot("waiting")]:
        worker.show(ScreenUpdate(snap, True, 0.0))
    taken = worker._take(timeout=0)
    assert taken is not None
    assert [(u.snapshot or {}).get("state") for u in taken] == ["vote_open", "result", "waiting"]
    assert taken[0].snapshot == ballots[-1], "the newest count of the burst"
    worker.close()
    assert worker._take(timeout=0) is None


def test_the_hall_screen_shows_the_time_of_the_configured_zone_not_the_boards(monkeypatch) -> None:
    import time as _time
    from datetime import datetime, timezone

    from edge.clock import Clock
    from voting.display.service import ScreenUpdate, ScreenWorker

    monkeypatch.setenv("TZ", "UTC")
    _time.tzset()
    try:
        at = datetime(2026, 12, 4, 7, 30, 5, tzinfo=timezone.utc).timestamp()
        worker = ScreenWorker((640, 360), False, None, Clock("Europe/Kyiv", source=lambda: at))
        frame = worker.render(ScreenUpdate(None, False, _time.monotonic()), (640, 360))
        assert [t.text for t in frame.layout.by_role("clock")] == ["09:30:05"]
    finally:
        monkeypatch.undo()
        _time.tzset()
