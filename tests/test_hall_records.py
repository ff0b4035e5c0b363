"""The hall's records stand up (issue 16): no published result is lost or overwritten.

A vote's uid was ``<date>-<ordinal in the sitting>``: a second sitting on the
same day (or a second «Розпочати засідання») reused ``…-1``, and the hub
replaced the published result with the later vote's. Now the ordinal
continues across the day's sittings, and the hub keeps what it published.
"""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import aiohttp

from edge.timeutil import iso_utc, uuid7
from tests.conftest import http_json, wait_until
from tests.test_hall import AGENDA_CSV, consoles, hall, sec  # noqa: F401  (fixtures)


async def vote_once(hall: Any, consoles: Any, session: int, choice: str) -> str:
    a, b = consoles
    assert (await sec(hall, "sitting", {"session": session}))[0] == 200
    assert (await sec(hall, "agenda", AGENDA_CSV, "text/csv"))[0] == 200
    for console, seat in ((a, "0"), (a, "1"), (a, "2"), (a, "3"), (b, "4")):
        assert (await console.press(seat))["kind"] == "registered"
    status, answer = await sec(hall, "votes", {"agenda_index": 1})
    assert status == 200, answer
    uid = answer["state"]["vote"]["uid"]
    for console, seat in ((a, "0"), (a, "1"), (a, "2"), (a, "3"), (b, "4")):
        assert (await console.press(seat, choice, vote=uid))["type"] == "ack"
    status, answer = await sec(hall, f"votes/{uid}/close", {})
    assert status == 200
    return uid


async def test_two_sittings_on_one_day_keep_every_result_published(hub, hall, consoles) -> None:
    first = await vote_once(hall, consoles, 20, "За")
    second = await vote_once(hall, consoles, 21, "Проти")  # a second sitting the same day
    again = await vote_once(hall, consoles, 21, "Утримався")  # «Розпочати засідання» pressed once more
    assert len({first, second, again}) == 3
    day = first.rsplit("-", 1)[0]

    async def published() -> list[dict[str, str]] | None:
        status, text = await http_json("GET", f"{hub.url}/opendata/voting/{day}/motions.csv")
        rows = list(csv.DictReader(io.StringIO(text))) if status == 200 else []
        return rows if len(rows) == 3 else None

    rows = await wait_until(published, timeout=15, what="three results published")
    assert {r["votingResult"] for r in rows} == {"Прийнято", "Не прийнято"}
    by_uid = {r["uid"]: r for r in rows}
    assert set(by_uid) == {first, second, again}
    assert by_uid[first]["votingFor"] == "5" and by_uid[second]["votingAgainst"] == "5"


async def test_the_hub_keeps_what_it_published_and_alerts_on_a_different_result(hub, node_factory) -> None:
    node = await node_factory("hall-9", hub.url, hub.code(role="hall"))
    await wait_until(node.hub.approved.is_set, what="hall approved")
    await node.stop()
    me = node.identity

    def result(votes_for: int) -> dict[str, Any]:
        return {"msg_id": uuid7(), "kind": "voting.result", "priority": 0, "created_at": iso_utc(), "payload": {
            "motion": {"authorityId": "04362345", "uid": "2026-12-04-1", "date": "2026-12-04",
                       "votingFor": votes_for, "votingResult": "Прийнято"},
            "sitting": {"convocation": 8, "session": 20},
            "votings": [{"voterId": "d1", "result": "За"}], "chain_hash": "a" * 64}}

    async def send(msg: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"messages": [msg]}).encode()
        headers = me.sign_request("POST", "/api/v1/ingest", body, time.time())
        async with aiohttp.ClientSession() as s:
            async with s.post(hub.url + "/api/v1/ingest", data=body,
                              headers={**headers, "Content-Type": "application/json"}) as r:
                assert r.status == 200
                return await r.json()

    published = result(5)
    await send(published)
    again = {**published, "msg_id": uuid7()}  # the same result re-delivered under a new message id
    await send(again)
    assert hub.query("SELECT count(*) FROM alerts WHERE kind = 'voting.conflict'") == [(0,)]
    await send(result(3))  # a different result under the published uid
    (row,), = hub.query("SELECT row FROM opendata_motions WHERE uid = '2026-12-04-1'")
    assert json.loads(row)["votingFor"] == 5
    (text,), = hub.query("SELECT message FROM alerts WHERE kind = 'voting.conflict' AND cleared_at IS NULL")
    assert "2026-12-04-1" in text
