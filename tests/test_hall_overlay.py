"""The broadcast overlay in a real browser: Debian's Chromium driven by Playwright.

A small aiohttp server stands in for the hall: it serves the page at
/hall/overlay and pushes snapshots on the public live socket, as the hall
does. No browser is downloaded; the test skips only when Chromium is absent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiohttp import WSMsgType, web

from tests.conftest import wait_until
from voting.protocol import LIVE_PATH

from tests.conftest import CHROMIUM
OVERLAY = Path(__file__).resolve().parent.parent / "voting" / "hall" / "ui" / "overlay.html"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is not installed (apt-get install chromium)")

VOTE = {"uid": "2026-11-22-5", "number": 5, "title": "Про бюджет громади на 2027 рік", "project_number": "123",
        "rule_text": "більшість від загального складу ради", "threshold": 14, "opened_at": "2026-11-22T10:14:03.000Z",
        "closes_at": "2026-11-22T10:16:00.000Z", "voted": 9, "eligible": 25, "counts": None}
BASE = {"type": "hall", "seq": 1, "at": "2026-11-22T10:15:00.000Z", "council": "Тестівська сільська рада",
        "date": "2026-11-22", "convocation": 8, "session": 12, "registration_open": True, "registered": 25,
        "total_composition": 27, "quorum_required": 14, "quorum_met": True, "vote": None, "result": None,
        "cancelled": None}
RESULT = {"uid": "2026-11-22-5", "number": 5, "title": VOTE["title"], "outcome": "Прийнято", "threshold": 14,
          "rule_text": "більшість від загального складу ради", "closed_at": "2026-11-22T10:16:00.000Z",
          "counts": {"За": 19, "Проти": 3, "Утримався": 2, "Не голосував": 1, "Відсутній": 2}, "roll_call": []}


class LiveHall:
    """Serves the overlay and keeps the browser's live sockets for the test to push on."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(OVERLAY)

    async def live(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
        return ws

    async def push(self, snapshot: dict[str, Any]) -> None:
        import json

        await self.sockets[-1].send_str(json.dumps(snapshot, ensure_ascii=False))


async def test_overlay_shows_the_question_then_the_result_and_drops_it_when_the_hall_goes(
        aiohttp_server: Any, browser_page: Any) -> None:
    hall = LiveHall()
    app = web.Application()
    app.router.add_get("/hall/overlay", hall.page)
    app.router.add_get(LIVE_PATH, hall.live)
    server = await aiohttp_server(app)
    page = browser_page

    await page.goto(str(server.make_url("/hall/overlay")))
    lower = page.locator("#lower")
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
    await wait_until(lambda: hall.sockets, what="the overlay to connect")
    assert await lower.is_hidden(), "nothing on air before the hall says anything"

    await hall.push({**BASE, "state": "vote_open", "vote": VOTE})
    await page.wait_for_function("document.body.dataset.state === 'vote_open'")
    text = await lower.inner_text()
    assert "Питання № 5" in text and "Про бюджет громади на 2027 рік" in text
    assert "Проголосували 9 з 25" in text and "потрібно 14 голосів «за»" in text
    assert "1:00" in await page.locator("#clock").inner_text(), "countdown on the hall's clock"
    assert await page.locator(".count").count() == 0, "choices hidden while voting"

    await hall.push({**BASE, "seq": 2, "state": "result", "result": RESULT})
    await page.wait_for_function("document.body.dataset.state === 'result'")
    text = await lower.inner_text()
    assert "ПРИЙНЯТО" in text and "НЕ ПРИЙНЯТО" not in text
    chips = {await c.get_attribute("data-result"): await c.inner_text() for c in await page.locator(".count").all()}
    assert [chips[k].split()[-1] for k in ("За", "Проти", "Утримався", "Не голосував", "Відсутній")] == [
        "19", "3", "2", "1", "2"]
    assert chips["За"].startswith("✓") and chips["Проти"].startswith("✗")
    assert "adopted" in (await lower.get_attribute("class") or "")
    assert await lower.is_visible()

    # The hall goes away: the result leaves the air, and the page comes back by itself.
    await hall.sockets[0].close()
    await page.wait_for_function("document.body.dataset.state === 'disconnected'")
    assert await lower.is_hidden()
    await wait_until(lambda: len(hall.sockets) == 2, what="the overlay to reconnect")
    await hall.push({**BASE, "seq": 3, "state": "cancelled",
                     "cancelled": {"uid": "2026-11-22-6", "number": 6, "title": "Про землю", "reason": "збій"}})
    await page.wait_for_function("document.body.dataset.state === 'cancelled'")
    assert "Голосування скасовано" in await lower.inner_text() and "Причина: збій" in await lower.inner_text()
