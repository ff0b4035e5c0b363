"""The ЦНАП queue role over its real HTTP API and sockets, with a real hub on loopback.

Order of the line, concurrent operators, pauses, bookings, refusals that
change nothing, the ticket page, a kiosk's sealed socket, reports at the hub.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from kiosk import protocol
from kiosk.queue.demo import write_catalogue
from tests.conftest import HubFixture, http_json, wait_until

KYIV = ZoneInfo("Europe/Kyiv")  # the centre's time zone (the default of [roles.queue] timezone)

# Windows 1–6: «consult» is served by all of them (for the concurrency test).
SERVICES = (
    ("id-card", "Оформлення ID-картки", "passport", (1, 2), 15),
    ("residence", "Реєстрація місця проживання", "residence", (2, 3), 10),
    ("subsidy", "Житлова субсидія", "social", (3,), 12),
    ("land-extract", "Витяг з Державного земельного кадастру", "land", (1, 3), 8),
    ("consult", "Консультація", "passport", (1, 2, 3, 4, 5, 6), 5),
)


def queue_settings(tmp: Path, **extra: Any) -> str:
    catalogue = write_catalogue(tmp / "catalogue.toml", windows=(1, 2, 3, 4, 5, 6), services=SERVICES)
    lines = ["[roles.queue]", f'catalogue_file = "{catalogue}"', 'cnap_name = "ЦНАП Тестівської громади"']
    # The queue's day starts at rollover_at (03:00 by default); these tests issue and book at the wall
    # clock's "now", so the day starts at midnight here and they mean the same at any hour of the night.
    extra.setdefault("rollover_at", "00:00")
    lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


class Cnap:
    """The queue node and a staff member's view of its API."""

    def __init__(self, url: str, state_dir: Path) -> None:
        self.url = url
        self.state_dir = state_dir

    @property
    def token(self) -> str:
        return (self.state_dir / "staff.token").read_text().strip()

    async def staff(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                    token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}", "Content-Type": content_type}
        data = body if isinstance(body, (str, bytes)) else (None if body is None else json.dumps(body))
        return await http_json(method, self.url + "/queue/api/" + path, data=data, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, answer = await self.staff(method, path, body, **kw)
        assert status == 200, (path, answer)
        return answer

    async def issue(self, service: str, lane: str = "walk_in", person: str | None = None) -> dict[str, Any]:
        return (await self.ok("POST", "tickets", {"service": service, "lane": lane, "person": person}))["ticket"]

    async def act(self, window: int, action: str, **body: Any) -> dict[str, Any]:
        return await self.ok("POST", f"windows/{window}/{action}", body)

    async def serve(self, window: int) -> str:
        """Call the next visitor, start and finish; the label served."""
        label = (await self.act(window, "call-next"))["ticket"]["label"]
        await self.act(window, "start")
        await self.act(window, "finish")
        return label

    async def state(self) -> dict[str, Any]:
        return await self.ok("GET", "state")

    def journal_rows(self) -> int:
        db = sqlite3.connect(self.state_dir / "node.sqlite", timeout=10)
        try:
            return db.execute("SELECT count(*) FROM queue_events").fetchone()[0]
        finally:
            db.close()


@pytest.fixture
async def cnap(hub: HubFixture, node_factory, tmp_path: Path) -> Cnap:
    node = await node_factory("cnap-queue", hub.url, hub.code(role="queue", site="cnap"), roles=["queue"],
                              site="cnap", extra=queue_settings(tmp_path))
    await wait_until(node.hub.connected.is_set, what="queue connected to the hub")
    c = Cnap(node.server.url, node.config.state_dir)
    c.node = node  # type: ignore[attr-defined]
    return c


def iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat()


async def test_the_line_is_called_priority_then_returning_then_booked_on_time_then_walk_ins_and_latecomers(
        cnap: Cnap) -> None:
    now = datetime.now(timezone.utc)
    await cnap.act(1, "open")
    await cnap.act(3, "open")
    w1 = await cnap.issue("id-card")
    w2 = await cnap.issue("id-card")
    (booked, late) = (await cnap.ok("POST", "bookings", [
        {"service": "id-card", "slot_start": iso(now - timedelta(minutes=1))},     # within the 2-minute grace
        {"service": "id-card", "slot_start": iso(now - timedelta(minutes=15))}]))["bookings"]
    b1 = (await cnap.ok("POST", "check-in", {"code": booked["code"]}))["ticket"]
    l1 = (await cnap.ok("POST", "check-in", {"code": late["code"]}))["ticket"]
    x = await cnap.issue("land-extract")
    assert (await cnap.act(3, "call-next"))["ticket"]["label"] == x["label"]  # window 1 would call x too
    await cnap.act(3, "start")
    await cnap.act(3, "redirect", to_service="id-card", comment="потрібне фото")
    p1 = await cnap.issue("id-card", lane="priority", person="hash-1")
    # The table of the rule, as window 1 calls it.
    expected = [
        (p1, "priority", "Пільгова черга. Перевірка документів біля вікна"),
        (x, "returning (redirected)", ""),
        (b1, "booked, on time", "За записом"),
        (w1, "walk-in", ""),
        (w2, "walk-in", ""),
        (l1, "booked, later than the grace period", "За записом (із запізненням)"),
    ]
    assert b1["label"].startswith("А7") and p1["label"].startswith("П")
    for ticket, lane, lane_text in expected:
        called = (await cnap.act(1, "call-next"))["ticket"]
        assert called["label"] == ticket["label"], f"expected the {lane} ticket {ticket['label']}"
        assert called["lane"] == lane_text
        await cnap.act(1, "start")
        await cnap.act(1, "finish")
    status, answer = await cnap.staff("POST", "windows/1/call-next", {})
    assert status == 409 and answer["error"]["code"] == "no_one_waiting"


async def test_operators_pressing_call_next_at_the_same_instant_never_get_the_same_ticket(cnap: Cnap) -> None:
    windows = range(1, 7)
    for n in windows:
        await cnap.act(n, "open")
    issued = [(await cnap.issue("consult"))["label"] for _ in range(30)]
    called: list[str] = []
    for _ in range(5):
        # Every window's operator presses twice, all at once: one press calls, the other is told the window is busy.
        presses = [cnap.staff("POST", f"windows/{n}/call-next", {}) for n in windows for _ in range(2)]
        answers = await asyncio.gather(*presses)
        ok = [a["ticket"]["label"] for s, a in answers if s == 200]
        assert len(ok) == 6
        assert sorted(a["error"]["code"] for s, a in answers if s != 200) == ["window_busy"] * 6
        called += ok
        await asyncio.gather(*(cnap.act(n, "start") for n in windows))
        await asyncio.gather(*(cnap.act(n, "finish") for n in windows))
    assert len(called) == len(set(called)) == 30
    assert sorted(called) == sorted(issued)
    done = [t for t in (await cnap.state())["tickets"] if t["state"] == "done"]
    assert len(done) == 30


async def test_a_whole_queue_pause_stops_calls_and_tickets_shows_everywhere_and_loses_nothing(
        hub: HubFixture, cnap: Cnap) -> None:
    await cnap.act(1, "open")
    for _ in range(3):
        await cnap.issue("id-card")
    at_window = (await cnap.act(1, "call-next"))["ticket"]["label"]
    async with aiohttp.ClientSession() as s, s.ws_connect(cnap.url.replace("http", "ws") + protocol.LIVE_PATH) as live:
        assert json.loads((await live.receive()).data)["pause"] is None
        await cnap.ok("POST", "pause", {"reason": "air_raid", "note": "усі до укриття"})
        board = json.loads((await live.receive(timeout=5)).data)
        assert board["pause"]["reason"] == "повітряна тривога"
        assert board["pause"]["text"] == "Обслуговування призупинено: повітряна тривога (усі до укриття)"
    _, menu = await http_json("GET", cnap.url + "/queue/api/menu")
    assert menu["pause"]["reason"] == "повітряна тривога"
    for path, body in (("windows/2/open", {}), ("windows/2/call-next", {}), ("tickets", {"service": "id-card"})):
        status, answer = await cnap.staff("POST", path, body)
        if path == "windows/2/open":
            continue  # opening a window during an alert is allowed; calling is not
        assert status == 409 and answer["error"]["code"] == "queue_paused", path
        assert answer["error"]["message_en"] == "Service is paused."
    status, _ = await cnap.staff("POST", "pause", {"reason": "blackout"})
    assert status == 409
    alert = await wait_until(lambda: hub.query("SELECT message FROM alerts WHERE cleared_at IS NULL"), timeout=10,
                             what="pause alert at the hub")
    assert "повітряна тривога" in alert[0][0]
    await cnap.act(1, "start")  # the visitor already at the window is served during the alert
    await cnap.act(1, "finish")
    await cnap.ok("POST", "resume", {})
    state = await cnap.state()
    assert [t["label"] for t in state["tickets"] if t["state"] == "waiting"] == ["А002", "А003"]
    assert at_window == "А001" and (await cnap.act(2, "call-next"))["ticket"]["label"] == "А002"
    await wait_until(lambda: hub.query("SELECT count(*) FROM alerts WHERE cleared_at IS NULL") == [(0,)],
                     timeout=10, what="pause alert cleared")


def refusals(booking_code: str, used_code: str, done_id: str) -> list[tuple[str, str, Any, int, str]]:
    """(method, path, body, status, code): bad input, each answered with a clear error."""
    return [
        ("POST", "windows/1/call-next", {}, 409, "no_one_waiting"),
        ("POST", "windows/1/finish", {"ticket_id": done_id}, 409, "already_finished"),
        ("POST", "windows/2/redirect", {"to_service": "no-such-service"}, 404, "unknown_service"),
        ("POST", "check-in", {"code": "000000"}, 404, "booking_unknown"),
        ("POST", "check-in", {"code": used_code}, 409, "booking_used"),
        ("POST", "tickets", {"service": "no-such-service"}, 404, "unknown_service"),
        ("POST", "tickets", {"service": "id-card", "lane": "vip"}, 400, "bad_request"),
        ("POST", "tickets", "{not json", 400, "bad_request"),
        ("POST", "windows/99/call-next", {}, 404, "unknown_window"),
        ("POST", "windows/1/dance", {}, 404, "not_found"),
        ("POST", "pause", {"reason": "lunch"}, 400, "bad_request"),
        ("POST", "bookings", [{"service": "id-card", "slot_start": "2099-01-01 10:00"},
                              {"service": "id-card", "slot_start": "завтра"}], 400, "bad_booking"),
        ("POST", "bookings", [{"code": booking_code, "service": "id-card", "slot_start": "2099-01-01 10:00"}],
         409, "booking_duplicate"),
        ("POST", "bookings", [{"service": "id-card", "slot_start": "2000-01-01 10:00"}], 400, "booking_in_past"),
        ("POST", "rollover", {"day": "2000-01-01"}, 409, "day_not_after"),
    ]


async def test_bad_input_gets_a_clear_error_in_both_languages_and_changes_nothing(cnap: Cnap) -> None:
    now = datetime.now(timezone.utc)
    await cnap.act(1, "open")
    await cnap.act(2, "open")
    codes = [b["code"] for b in (await cnap.ok("POST", "bookings", [
        {"service": "id-card", "slot_start": iso(now)}, {"service": "id-card", "slot_start": iso(now)}]))["bookings"]]
    await cnap.ok("POST", "check-in", {"code": codes[1]})
    done_id = (await cnap.issue("id-card"))["id"]
    await cnap.serve(1)
    await cnap.serve(1)
    await cnap.issue("residence")
    await cnap.act(2, "call-next")  # a visitor at window 2, whom the operator tries to redirect
    before, rows = await cnap.state(), cnap.journal_rows()
    for method, path, body, status, code in refusals(codes[0], codes[1], done_id):
        got, answer = await cnap.staff(method, path, body)
        assert (got, answer["error"]["code"]) == (status, code), (path, answer)
        err = answer["error"]
        assert any("а" <= c <= "я" or c in "іїєґ" for c in err["message"].lower()), err  # Ukrainian first
        assert err["message_en"] and err["message_en"] != err["message"]
    status, answer = await cnap.staff("GET", "state", token="wrong")
    assert status == 401 and answer["error"]["code"] == "unauthorized"
    status, answer = await http_json("POST", cnap.url + f"/queue/api/ticket/{done_id}/rating",
                                     json={"loyalty": 11})
    assert status == 400 and answer["error"]["code"] == "loyalty_out_of_range"
    assert await cnap.state() == before and cnap.journal_rows() == rows


async def test_bookings_import_from_csv_and_check_in_by_code_in_any_case(cnap: Cnap) -> None:
    slot = datetime.now(KYIV).strftime("%Y-%m-%d %H:%M")  # the centre's local time, as a booking site exports it
    csv_text = f"code,service,slot_start,person\nab12cd,residence,{slot},\n,id-card,{slot},p-7\n"
    added = (await cnap.ok("POST", "bookings/import", csv_text, content_type="text/csv"))["bookings"]
    assert added[0]["code"] == "AB12CD" and len(added[1]["code"]) == 6 and added[1]["code"].isdigit()
    listed = (await cnap.ok("GET", "bookings"))["bookings"]
    assert {b["code"] for b in listed} == {"AB12CD", added[1]["code"]}
    ticket = (await cnap.ok("POST", "check-in", {"code": " ab12cd "}))["ticket"]
    assert ticket["kind"] == "booked" and ticket["label"] == "Р700" and ticket["on_time"] is True
    assert next(b for b in (await cnap.ok("GET", "bookings"))["bookings"] if b["code"] == "AB12CD")["ticket"] == ticket["id"]
    bad = "code,service,slot_start\nX1,id-card,2099-01-01 09:00\nX2,no-such,2099-01-01 09:30\n"
    status, answer = await cnap.staff("POST", "bookings/import", bad, content_type="text/csv")
    assert status == 404 and answer["error"]["details"]["line"] == 2  # nothing of it was added, not even X1
    assert len((await cnap.ok("GET", "bookings"))["bookings"]) == 2


async def test_the_ticket_page_shows_the_live_position_and_takes_one_rating_after_service(cnap: Cnap) -> None:
    await cnap.act(1, "open")
    first = await cnap.issue("id-card")
    second = await cnap.issue("id-card")
    page = cnap.url + f"/queue/ticket/{second['day']}/{second['label']}"
    async with aiohttp.ClientSession() as s, s.get(page) as r:
        assert r.status == 200 and "Мій талон" in await r.text()
    api = cnap.url + f"/queue/api/ticket/{second['day']}/{second['label']}"
    _, view = await http_json("GET", api)
    assert view["ticket"]["label"] == "А002" and view["estimate"]["people_ahead"] == 1
    assert view["estimate"]["text"].endswith("хв") and view["can_rate"] is False
    await cnap.serve(1)
    _, view = await http_json("GET", api)
    assert view["estimate"]["people_ahead"] == 0
    await cnap.act(1, "call-next")
    _, view = await http_json("GET", api)
    assert view["ticket"]["state"] == "called" and view["ticket"]["window"] == 1 and view["estimate"] is None
    await cnap.act(1, "start")
    await cnap.act(1, "finish")
    _, view = await http_json("GET", api)
    assert view["can_rate"] is True
    status, _ = await http_json("POST", api + "/rating", json={"grade": "чудово", "loyalty": 10})
    assert status == 200
    status, answer = await http_json("POST", api + "/rating", json={"grade": "погано"})
    assert status == 409 and answer["error"]["code"] == "already_rated"
    status, answer = await http_json("GET", cnap.url + f"/queue/api/ticket/{first['day']}/А999")
    assert status == 404 and answer["error"]["code"] == "unknown_ticket"
    stats = await cnap.ok("GET", "stats")
    assert stats["loyalty_index"] == 100.0 and stats["feedback"][0]["grades"]["чудово"] == 1


async def test_ticket_events_and_hourly_figures_reach_the_hub_without_personal_data(hub: HubFixture,
                                                                                    cnap: Cnap) -> None:
    await cnap.act(1, "open")
    p = await cnap.issue("id-card", lane="priority", person="hash-of-a-passport")
    await cnap.serve(1)
    rows = await wait_until(lambda: hub.query("SELECT priority, payload FROM events WHERE kind = 'queue.ticket'")
                            if len(hub.query("SELECT 1 FROM events WHERE kind = 'queue.ticket'")) == 4 else None,
                            timeout=15, what="four ticket events at the hub")
    events = [json.loads(payload) for _, payload in rows]
    assert {prio for prio, _ in rows} == {0}  # CRITICAL: never thinned
    assert [e["event"]["kind"] for e in events] == ["ticket_issued", "ticket_called", "service_started",
                                                    "service_finished"]
    assert all(e["ticket"]["label"] == p["label"] and e["cnap"] == "ЦНАП Тестівської громади" for e in events)
    assert "hash-of-a-passport" not in json.dumps(events)
    local = datetime.now(KYIV)
    calendar = cnap.node.roles[0].calendar  # type: ignore[attr-defined]
    assert await calendar.send_hour(local.date(), local.hour) is True
    assert await calendar.send_hour(local.date(), local.hour) is False  # once per hour, also after a restart
    (payload,) = await wait_until(lambda: hub.query("SELECT payload FROM events WHERE kind = 'queue.hourly'"),
                                  timeout=15, what="hourly figures at the hub")
    hourly = json.loads(payload[0])
    assert hourly["hour"] == f"{local.hour:02d}:00" and hourly["total"]["served"] == 1


async def test_day_rollover_from_the_api_starts_a_new_day_and_expires_unserved_tickets(cnap: Cnap) -> None:
    await cnap.act(1, "open")
    waiting = await cnap.issue("id-card")
    tomorrow = (datetime.now(KYIV) + timedelta(days=1)).date().isoformat()
    rolled = await cnap.ok("POST", "rollover", {"day": tomorrow})
    assert rolled["expired"] == [waiting["id"]] and rolled["carried"] == []
    state = await cnap.state()
    assert state["day"] == tomorrow and state["tickets"] == []
    assert {w["state"] for w in state["windows"]} == {"closed"}
    stats = await cnap.ok("GET", f"stats?day={waiting['day']}")
    assert stats["issued"] == 1 and stats["waiting_or_at_window"] == 0


async def test_a_change_the_disk_refuses_is_answered_503_and_the_queue_goes_on_unchanged(
        cnap: Cnap, monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.queue import records as queue_journal

    await cnap.act(1, "open")
    await cnap.issue("id-card")
    before, rows = await cnap.state(), cnap.journal_rows()
    stored = queue_journal.append

    def disk_error(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("disk I/O error")  # what a failing SD card looks like to SQLite

    monkeypatch.setattr(queue_journal, "append", disk_error)
    status, answer = await cnap.staff("POST", "windows/1/call-next", {})
    assert status == 503 and answer["error"]["code"] == "unavailable"
    monkeypatch.setattr(queue_journal, "append", stored)
    assert await cnap.state() == before and cnap.journal_rows() == rows
    assert (await cnap.act(1, "call-next"))["ticket"]["label"] == "А001"


async def test_the_dashboard_shows_who_waits_per_service_todays_times_and_the_loyalty_index(
        hub: HubFixture, cnap: Cnap) -> None:
    from tests.dash_fixtures import add_account, logged_in

    await cnap.act(1, "open")
    served = await cnap.issue("id-card")
    await cnap.issue("id-card")
    await cnap.serve(1)
    status, _ = await http_json("POST", f"{cnap.url}/queue/api/ticket/{served['day']}/{served['label']}/rating",
                                json={"grade": "чудово", "loyalty": 10})
    assert status == 200
    await wait_until(lambda: hub.query("SELECT 1 FROM events WHERE kind = 'queue.rating'"), timeout=15,
                     what="the rating at the hub")
    local = datetime.now(KYIV)
    await cnap.node.roles[0].calendar.send_hour(local.date(), local.hour)  # type: ignore[attr-defined]
    await wait_until(lambda: hub.query("SELECT 1 FROM events WHERE kind = 'queue.hourly'"), timeout=15,
                     what="hourly figures")
    await wait_until(lambda: hub.query("SELECT 1 FROM nodes WHERE json_extract(health, '$.roles.queue.waiting') = 1"),
                     timeout=15, what="a heartbeat with one waiting")
    session, _ = await logged_in(hub.url, add_account(hub.state, "oksana", "viewer"))
    try:
        async with session.get("/api/v1/dash/queue") as r:
            data = (await r.json())["queues"][0]
    finally:
        await session.close()
    id_card = next(s for s in data["now"]["services"] if s["id"] == "id-card")
    assert id_card["waiting"] == 1
    today = next(s for s in data["today"]["services"] if s["service"] == "id-card")
    assert today["served"] == 1 and today["mean_service_s"] is not None
    assert data["loyalty"] == {"answers": 1, "index": 100.0, "days": 30}
