"""The hall controller over its real sockets: registration, votes, refusals, results at the hub."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from edge import hubclient
from edge.config import parse_node_config
from edge.hubclient import HubClient
from edge.identity import Identity
from edge.peers import PeerClient
from edge.store import Store
from tests.conftest import HubFixture, http_json, node_toml, wait_until
from tests.voting_fixtures import write_council
from voting import protocol


class RawConsole:
    """A console node speaking the protocol by hand (enrolled for real, sealed messages)."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.tmp = tmp / name
        self.messages: list[dict[str, Any]] = []
        self.client: HubClient | None = None
        self.link: PeerClient | None = None
        self._task: asyncio.Task[None] | None = None

    async def enroll(self, hub: HubFixture, site: str = "rada") -> None:
        cfg = parse_node_config({"node": {"name": self.name, "site": site, "roles": ["console"],
                                          "state_dir": str(self.tmp)},
                                 "hub": {"url": hub.url, "enrollment_code": hub.code(role="console", site=site)}})
        store = await Store.open(self.tmp / "node.sqlite", {"hubclient": hubclient.MIGRATIONS})
        self.client = HubClient(cfg, Identity.load_or_create(self.tmp), store, None, lambda: 1)
        await self.client.load_state()
        assert await self.client.enroll() == "approved"

    async def connect(self, hall_url: str, hall_id: str, hall_key: str, seats: list[str]) -> None:
        async def url_of() -> str:
            return hall_url

        async def on_message(m: dict[str, Any]) -> None:
            self.messages.append(m)

        assert self.client is not None
        self.link = PeerClient(self.client.identity, protocol.CONSOLE_PATH, url_of,
                               lambda nid: hall_key if nid == hall_id else None, on_message)
        self._task = asyncio.create_task(self.link.run())
        await wait_until(self.link.connected.is_set, what=f"{self.name} connected")
        await self.link.send({"type": "hello", "seats": seats})
        await wait_until(lambda: any(m["type"] == "state" for m in self.messages), what="first state")

    async def send(self, **message: Any) -> str:
        message.setdefault("id", str(uuid.uuid4()))
        assert self.link is not None
        await self.link.send(message)
        return message["id"]

    async def answer(self, msg_id: str) -> dict[str, Any]:
        return await wait_until(lambda: next((m for m in self.messages if m.get("id") == msg_id), None),
                                what=f"answer to {msg_id}")

    async def press(self, seat: str, choice: str = "За", presence: bool = True, vote: str | None = None) -> dict:
        return await self.answer(await self.send(type="press", seat=seat, choice=choice, presence=presence, vote=vote))

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib_suppress():
                await self._task
        if self.client:
            await self.client.close()
            await self.client.store.close()


class contextlib_suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return True


@pytest.fixture
async def hall(hub: HubFixture, node_factory, tmp_path: Path):
    council = write_council(tmp_path / "council.toml", seats=7, deputies=6,
                            consoles={"consoles-a": range(1, 4), "consoles-b": range(4, 7)}, head_console="consoles-a")
    extra = f'[roles.hall]\ncouncil_file = "{council}"\n'
    node = await node_factory("hall", hub.url, hub.code(role="hall"), roles=["hall"], extra=extra)
    await wait_until(node.hub.connected.is_set, what="hall connected to hub")
    yield node


@pytest.fixture
async def consoles(hub: HubFixture, hall, tmp_path: Path):
    a, b = RawConsole("consoles-a", tmp_path), RawConsole("consoles-b", tmp_path)
    await a.enroll(hub)
    await b.enroll(hub)
    await wait_until(lambda: len(hall.hub.roster) == 3, what="roster with both consoles")
    await a.connect(hall.server.url, hall.identity.id, hall.identity.public_key_b64, ["0", "1", "2", "3"])
    await b.connect(hall.server.url, hall.identity.id, hall.identity.public_key_b64, ["4", "5", "6"])
    yield a, b
    await a.close()
    await b.close()


def token(hall) -> str:
    return (hall.config.state_dir / "secretary.token").read_text().strip()


async def sec(hall, path: str, body: Any = None, content_type: str = "application/json") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token(hall)}", "Content-Type": content_type}
    import json as _json
    data = body if isinstance(body, (str, bytes)) else (None if body is None else _json.dumps(body))
    return await http_json("POST" if body is not None else "GET", hall.server.url + "/hall/api/" + path,
                           data=data, headers=headers)


AGENDA_CSV = ("number,title,project_number,rule\n"
              "1,Про порядок денний,,majority_of_registered\n"
              "2,Про бюджет громади на 2027 рік,1201,\n"
              "3,Про подолання вето,1202,two_thirds_of_total\n")


async def test_a_sitting_from_registration_to_open_data_at_the_hub(hub, hall, consoles) -> None:
    a, b = consoles
    assert (await sec(hall, "sitting", {"session": 12}))[0] == 200
    assert (await sec(hall, "agenda", AGENDA_CSV, "text/csv"))[0] == 200
    # Total composition: 7 seats (one vacant) + the head = 8; quorum needs 5. Two registered: no quorum.
    for seat in ("1", "2"):
        assert (await a.press(seat))["kind"] == "registered"
    status, answer = await sec(hall, "votes", {"agenda_index": 1})
    assert status == 409 and answer["error"]["code"] == "no_quorum"
    for console, seat in ((a, "0"), (a, "3"), (b, "4"), (b, "5")):
        assert (await console.press(seat))["kind"] == "registered"
    status, answer = await sec(hall, "votes", {"agenda_index": 1})
    assert status == 200
    snap = answer["state"]
    assert snap["state"] == "vote_open" and snap["vote"]["threshold"] == 5  # more than half of 8
    uid = snap["vote"]["uid"]
    for console, seat, choice in ((a, "0", "За"), (a, "1", "За"), (a, "2", "За"), (a, "3", "За"),
                                  (b, "4", "За"), (b, "5", "Проти")):
        ack = await console.press(seat, choice, vote=uid)
        assert ack["type"] == "ack" and ack["choice"] == choice
    status, answer = await sec(hall, f"votes/{uid}/close", {})
    result = answer["state"]["result"]
    assert result["outcome"] == "Прийнято"
    assert result["counts"] == {"За": 5, "Проти": 1, "Утримався": 0, "Не голосував": 0, "Відсутній": 1}
    day = answer["state"]["date"]

    async def published():
        status, text = await http_json("GET", f"{hub.url}/opendata/voting/{day}/8-12/motions.csv")
        return text if status == 200 else None

    text = await wait_until(published, timeout=15, what="open data at the hub")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["votingResult"] == "Прийнято" and rows[0]["votingFor"] == "5"
    assert rows[0]["title"] == "Про бюджет громади на 2027 рік" and rows[0]["authorityId"] == "04362345"
    status, text = await http_json("GET", f"{hub.url}/opendata/voting/{day}/votings.csv")
    votings = list(csv.DictReader(io.StringIO(text)))
    assert len(votings) == 7  # 6 deputies and the head; the vacant seat counts in thresholds only
    assert {v["result"] for v in votings} == {"За", "Проти", "Відсутній"}
    assert any("Ґудзь" in v["voterName"] or "Їжакевич" in v["voterName"] for v in votings)


async def test_bad_presses_are_refused_and_change_nothing(hub, hall, consoles) -> None:
    a, b = consoles
    await sec(hall, "sitting", {"session": 1})
    for console, seat in ((a, "0"), (a, "1"), (a, "2"), (a, "3"), (b, "4")):
        await console.press(seat)
    refused = await a.press("1", "За", vote=None)
    assert refused["type"] == "refused" and refused["code"] == "already_registered"
    assert (await a.press("4"))["code"] == "not_your_seat"
    status, answer = await sec(hall, "votes", {"question": {"number": "1", "title": "Тест"}})
    uid = answer["state"]["vote"]["uid"]
    assert (await a.press("1", "За", presence=False, vote=uid))["code"] == "presence_required"
    assert (await a.press("1", "Можливо", vote=uid))["code"] == "unknown_choice"
    assert (await b.press("5", "За", vote=uid))["code"] == "not_registered"
    msg_id = await a.send(type="press", seat="2", choice="Проти", presence=True, vote=uid)
    assert (await a.answer(msg_id))["type"] == "ack"
    a.messages.clear()
    await a.send(id=msg_id, type="press", seat="2", choice="За", presence=True, vote=uid)
    assert (await a.answer(msg_id))["code"] == "duplicate"
    assert (await a.press("2", "За", vote=uid))["code"] == "change_not_allowed"
    await sec(hall, f"votes/{uid}/close", {})
    assert (await a.press("3", "За", vote=uid))["code"] in ("vote_closed", "registration_closed", "already_registered")
    _, state = await http_json("GET", hall.server.url + "/hall/api/state",
                               headers={"Authorization": f"Bearer {token(hall)}"})
    result = state["snapshot"]["result"]
    assert result["counts"]["Проти"] == 1 and result["counts"]["За"] == 0


async def test_console_of_another_site_cannot_connect(hub, hall, tmp_path) -> None:
    stranger = RawConsole("consoles-a", tmp_path / "other")
    await stranger.enroll(hub, site="cnap")
    headers = stranger.client.identity.sign_request("GET", protocol.CONSOLE_PATH, b"", __import__("time").time())
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(hall.server.url.replace("http", "ws") + protocol.CONSOLE_PATH, headers=headers)
    assert err.value.status == 403
    await stranger.close()


async def test_secretary_api_needs_the_token_and_an_operator_for_manual_entries(hall, consoles) -> None:
    status, answer = await http_json("POST", hall.server.url + "/hall/api/sitting", json={"session": 1})
    assert status == 401
    await sec(hall, "sitting", {"session": 1})
    status, answer = await sec(hall, "votes", {"question": {"number": "1", "title": "Тест"},
                                              "quorum_override_by": "Голова ради"})
    assert status == 200
    uid = answer["state"]["vote"]["uid"]
    status, answer = await sec(hall, f"votes/{uid}/manual", {"voter_id": "d001", "choice": "За"})
    assert status == 400 and answer["error"]["code"] == "operator_required"
    status, answer = await sec(hall, f"votes/{uid}/manual", {"voter_id": "d001", "choice": "За",
                                                              "operator": "Секретар Іваненко", "reason": "пульт"})
    assert status == 200
    _, state = await http_json("GET", hall.server.url + "/hall/api/state",
                               headers={"Authorization": f"Bearer {token(hall)}"})
    d1 = next(v for v in state["voters"] if v["id"] == "d001")
    assert d1["live"] == "За" and d1["manual"] is True


async def test_restart_restores_the_open_vote_and_every_ballot_and_verify_catches_an_edit(
        hub, hall, consoles, node_factory, tmp_path) -> None:
    a, b = consoles
    await sec(hall, "sitting", {"session": 3})
    for console, seat in ((a, "0"), (a, "1"), (a, "2"), (a, "3"), (b, "4")):
        await console.press(seat)
    _, answer = await sec(hall, "votes", {"question": {"number": "7", "title": "Про укриття"}})
    uid = answer["state"]["vote"]["uid"]
    for seat in ("1", "2", "3"):
        await a.press(seat, "За", vote=uid)
    await hall.stop()
    from edge.config import load_node_config
    from edge.node import Node

    again = Node(load_node_config(tmp_path / "hall.toml"))
    await again.start()
    try:
        _, state = await http_json("GET", again.server.url + "/hall/api/state",
                                   headers={"Authorization": f"Bearer {token(again)}"})
        assert state["snapshot"]["vote"]["uid"] == uid and state["snapshot"]["vote"]["voted"] == 3
    finally:
        await again.stop()
    from edge.cli import main

    assert main(["voting", "verify", "--config", str(tmp_path / "hall.toml")]) == 0
    db = sqlite3.connect(tmp_path / "hall" / "node.sqlite")
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("UPDATE hall_events SET body = replace(body, 'За', 'Проти') WHERE kind = 'ballot'")
    db.execute("DROP TRIGGER hall_events_append_only_update")
    seq = db.execute("SELECT min(seq) FROM hall_events WHERE kind = 'ballot'").fetchone()[0]
    db.execute("UPDATE hall_events SET body = replace(body, 'За', 'Проти') WHERE seq = ?", (seq,))
    db.commit()
    db.close()
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "edge.cli", "voting", "verify", "--config", str(tmp_path / "hall.toml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3
    assert f"№{seq}" in r.stdout



async def test_overlay_served_by_the_hall_shows_the_result_when_the_vote_closes(hall, consoles,
                                                                               browser_page) -> None:
    a, b = consoles
    await sec(hall, "sitting", {"session": 2})
    for console, seat in ((a, "0"), (a, "1"), (a, "2"), (a, "3"), (b, "4")):
        await console.press(seat)
    page = browser_page
    await page.goto(hall.server.url + "/hall/overlay")
    _, answer = await sec(hall, "votes", {"question": {"number": "9", "title": "Про сквер біля ліцею"}})
    uid = answer["state"]["vote"]["uid"]
    await page.wait_for_function("document.body.dataset.state === 'vote_open'")
    assert "Про сквер біля ліцею" in await page.locator("#lower").inner_text()
    for seat in ("0", "1", "2", "3"):
        await a.press(seat, "За", vote=uid)
    await b.press("4", "Проти", vote=uid)
    await sec(hall, f"votes/{uid}/close", {})
    await page.wait_for_function("document.body.dataset.state === 'result'")
    text = await page.locator("#lower").inner_text()
    assert "НЕ ПРИЙНЯТО" in text  # 4 «за» of 8 in the total composition: 5 needed


async def test_cards_register_only_their_own_deputy_at_their_own_seat(hub, hall, consoles) -> None:
    from tests.voting_fixtures import card_of

    a, b = consoles
    await sec(hall, "sitting", {"session": 4})
    ok = await a.answer(await a.send(type="card", seat="1", card=card_of(1)))
    assert ok["type"] == "ack" and ok["kind"] == "registered"
    other = await a.answer(await a.send(type="card", seat="2", card=card_of(3)))
    assert other["type"] == "refused" and other["code"] == "card_other_seat"
    unknown = await a.answer(await a.send(type="card", seat="2", card="FFFFFFFFFF"))
    assert unknown["code"] == "unknown_card"
    _, state = await http_json("GET", hall.server.url + "/hall/api/state",
                               headers={"Authorization": f"Bearer {token(hall)}"})
    assert [v["id"] for v in state["voters"] if v["registered"]] == ["d001"]


async def test_a_flapping_console_input_raises_an_alert_at_the_hub_and_clears_it(hub, hall, consoles) -> None:
    a, _ = consoles
    await a.send(type="fault", seat="2", input="za", what="flapping")
    alerts = await wait_until(lambda: hub.query("SELECT kind, severity, message FROM alerts WHERE cleared_at IS NULL"),
                              timeout=15, what="alert at the hub")
    assert alerts[0][0] == "console" and "несправний вхід" in alerts[0][2]
    await a.send(type="fault", seat="2", input="za", what="ok")
    await wait_until(lambda: hub.query("SELECT count(*) FROM alerts WHERE cleared_at IS NULL") == [(0,)],
                     timeout=15, what="alert cleared")


async def test_the_journal_names_the_console_node_that_cast_each_ballot(hub, hall, consoles) -> None:
    # Which board pressed is part of the record: the chain keeps it, the secretary can show it.
    from voting.hall import records
    a, b = consoles
    assert (await sec(hall, "sitting", {"session": 13}))[0] == 200
    assert (await sec(hall, "agenda", AGENDA_CSV, "text/csv"))[0] == 200
    for console, seat in ((a, "0"), (a, "1"), (a, "2"), (a, "3"), (b, "4")):
        assert (await console.press(seat))["kind"] == "registered"
    status, answer = await sec(hall, "votes", {"agenda_index": 1})
    uid = answer["state"]["vote"]["uid"]
    assert (await a.press("1", "За", vote=uid))["type"] == "ack"
    assert (await b.press("4", "Проти", vote=uid))["type"] == "ack"
    events = await hall.store.run(records.current_sitting)
    ballots = {e["choice"]: e["console"] for e in events if e["kind"] == "ballot"}
    assert ballots == {"За": a.client.identity.id, "Проти": b.client.identity.id}
    assert (await hall.store.run(records.verify)).ok


async def test_a_seat_may_be_bound_to_its_console_by_node_id(hub, node_factory, tmp_path) -> None:
    console = RawConsole("consoles-c", tmp_path)
    await console.enroll(hub)
    council = write_council(tmp_path / "council-id.toml", seats=3, deputies=2,
                            consoles={console.client.identity.id: range(1, 3)}, head_console=console.client.identity.id)
    node = await node_factory("hall-id", hub.url, hub.code(role="hall"), roles=["hall"],
                              extra=f'[roles.hall]\ncouncil_file = "{council}"\n')
    await wait_until(lambda: len(node.hub.roster) == 2, what="roster with the console")
    try:
        await console.connect(node.server.url, node.identity.id, node.identity.public_key_b64, ["0", "1", "2"])
        assert not [m for m in console.messages if m.get("type") == "refused"], console.messages
    finally:
        await console.close()


@pytest.mark.parametrize("body", [{"agenda_index": -1}, {"agenda_index": 3}, {"agenda_index": "1"},
                                  {"agenda_index": True}, {"agenda_index": 0, "duration_s": float("nan")},
                                  {"agenda_index": 0, "duration_s": -5}])
async def test_a_vote_is_opened_only_on_a_question_that_exists_for_a_sane_time(hall, consoles, body) -> None:
    # agenda_index -1 opened the last question (Python's negative index): a vote nobody chose.
    a, b = consoles
    assert (await sec(hall, "sitting", {"session": 14}))[0] == 200
    assert (await sec(hall, "agenda", AGENDA_CSV, "text/csv"))[0] == 200
    for console, seat in ((a, "0"), (a, "1"), (a, "2"), (a, "3"), (b, "4")):
        assert (await console.press(seat))["kind"] == "registered"
    status, answer = await sec(hall, "votes", body)
    assert status == 400, answer
    status, state = await sec(hall, "state")
    assert state["snapshot"]["state"] != "vote_open"


@pytest.mark.parametrize("fault", [{"seat": "5", "input": "za"}, {"seat": "2", "input": "x" * 16},
                                   {"seat": "2", "input": "za", "what": "on fire"}])
async def test_a_console_reports_faults_only_of_inputs_it_has_at_its_own_seats(hub, hall, consoles, fault) -> None:
    # Each distinct (seat, input) opened its own hub alert: a console could fill the alert list.
    a, _ = consoles  # consoles-a drives seats 0–3
    msg_id = await a.send(type="fault", **{"what": "flapping", **fault})
    answer = await a.answer(msg_id)
    assert answer["type"] == "refused"
    await a.send(type="fault", seat="2", input="presence", what="flapping")  # a real one still gets through
    alerts = await wait_until(lambda: hub.query("SELECT message FROM alerts WHERE cleared_at IS NULL"),
                              timeout=15, what="the real fault's alert")
    assert len(alerts) == 1 and "presence" in alerts[0][0]


async def test_an_authentic_frame_whose_body_is_not_json_is_dropped_and_the_socket_stays_open(hall, consoles) -> None:
    # A console firmware bug (or a stolen console) sends a correctly sealed frame that is not JSON:
    # the hall used to fail out of its read loop and close the link, dropping the console's seats.
    import hashlib
    import hmac
    import json as _json
    a, _ = consoles
    assert (await sec(hall, "sitting", {"session": 15}))[0] == 200
    link = a.link
    body = "{not json"
    frame = _json.dumps({"body": body, "mac": hmac.new(link._send_key, body.encode(), hashlib.sha256).hexdigest()})
    await link._ws.send_str(frame)
    await wait_until(lambda: any(m.get("type") == "error" and "JSON" in m.get("message", "") for m in a.messages),
                     what="the hall's answer to the bad frame")
    assert (await a.press("1"))["kind"] == "registered"  # the same connection, still working
    assert link.connected.is_set()


@pytest.mark.parametrize("field, value, code", [
    ("reason", "п" * 501, "too_long"), ("operator", "С" * 81, "too_long"),
    ("operator", "Секретар\x1b[2J", "bad_request"), ("reason", "пульт\r\nINFO forged log line", "bad_request"),
    ("operator", 42, "bad_request"),
])
async def test_a_persons_words_in_the_journal_are_refused_not_cut_when_too_long_or_with_control_characters(
        hall, consoles, field, value, code) -> None:
    # The operator's name was cut at 80 characters without a word; a reason had no bound, and either could
    # carry terminal escapes into the journal and the logs.
    await sec(hall, "sitting", {"session": 1})
    status, answer = await sec(hall, "votes", {"question": {"number": "1", "title": "Тест"},
                                              "quorum_override_by": "Голова ради"})
    uid = answer["state"]["vote"]["uid"]
    body = {"voter_id": "d001", "choice": "За", "operator": "Секретар Іваненко", "reason": "пульт", field: value}
    status, answer = await sec(hall, f"votes/{uid}/manual", body)
    assert status == 400 and answer["error"]["code"] == code, answer
    _, state = await http_json("GET", hall.server.url + "/hall/api/state",
                               headers={"Authorization": f"Bearer {token(hall)}"})
    d1 = next(v for v in state["voters"] if v["id"] == "d001")
    assert d1["live"] != "За" and not d1["manual"]  # nothing was entered
