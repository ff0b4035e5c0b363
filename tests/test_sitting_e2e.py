"""A whole sitting across separate processes: hub, hall, two console boards on mock pins.

Registration, a quorum refusal, votes under each rule, a press without
presence, a manual entry, a cancelled vote, the hall killed (SIGKILL) in the
middle of a vote and restarted with no ballot lost, and the roll call
published at the hub as open-data CSV.
"""

from __future__ import annotations

import csv
import io
import signal
from pathlib import Path
from typing import Any

from tests.conftest import HubFixture, free_port, healthy, http_json, wait_until
from tests.voting_fixtures import write_council

AGENDA = ("number,title,project_number,rule\n"
          "1,Про порядок денний,,majority_of_registered\n"
          "2,Про бюджет громади на 2027 рік,1201,majority_of_total\n"
          "3,Про подолання вето голови,1202,two_thirds_of_total\n"
          "4,Про перейменування вулиці,1203,majority_of_total\n")


def console_toml(tmp: Path, name: str, seats: list[str], hub_url: str, code: str, hall_url: str) -> Path:
    lines = ["[node]", f'name = "{name}"', 'site = "rada"', 'roles = ["console"]', f'state_dir = "{tmp / name}"',
             "port = 0", "[hub]", f'url = "{hub_url}"', f'enrollment_code = "{code}"', "[discovery]",
             "enabled = false", "[roles.console]", f'hall_url = "{hall_url}"']
    for slot, seat in enumerate(seats):
        b = 4 + 8 * slot
        lines += ["[[roles.console.seats]]", f'seat = "{seat}"', f"za = {b}", f"proty = {b + 1}",
                  f"utrymavsia = {b + 2}", f"presence = {b + 3}", f"led_za = {b + 4}", f"led_proty = {b + 5}",
                  f"led_utrymavsia = {b + 6}", f"led_status = {b + 7}"]
    path = tmp / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Sitting:
    def __init__(self, tmp: Path, hub: HubFixture, procs) -> None:
        self.tmp, self.hub, self.procs = tmp, hub, procs
        self.hall_port = free_port()
        self.hall_url = f"http://127.0.0.1:{self.hall_port}"
        council = write_council(tmp / "council.toml", seats=7, deputies=6,
                                consoles={"consoles-a": range(1, 3), "consoles-b": range(3, 6)},
                                head_console="consoles-a")
        self.hall_cfg = tmp / "hall.toml"
        self.hall_cfg.write_text(
            f'[node]\nname = "hall"\nsite = "rada"\nroles = ["hall"]\nstate_dir = "{tmp / "hall"}"\n'
            f'port = {self.hall_port}\n[hub]\nurl = "{hub.url}"\nenrollment_code = "{hub.code(role="hall")}"\n'
            f'[discovery]\nenabled = false\n[roles.hall]\ncouncil_file = "{council}"\n')
        self.consoles: dict[str, str] = {}

    def start_hall(self, log: str = "hall.log") -> Any:
        return self.procs(["node", "--config", str(self.hall_cfg)], self.tmp / log)

    def start_console(self, name: str, seats: list[str]) -> None:
        cfg = console_toml(self.tmp, name, seats, self.hub.url, self.hub.code(role="console"), self.hall_url)
        self.procs(["node", "--config", str(cfg)], self.tmp / f"{name}.log")

    async def console_url(self, name: str) -> str:
        rows = self.hub.query("SELECT address, port FROM nodes WHERE name = ? AND online = 1", name)
        return f"http://127.0.0.1:{rows[0][1]}" if rows else ""

    def token(self) -> str:
        return (self.tmp / "hall" / "secretary.token").read_text().strip()

    async def sec(self, path: str, body: Any = None, ctype: str = "application/json") -> tuple[int, Any]:
        import json
        headers = {"Authorization": f"Bearer {self.token()}", "Content-Type": ctype}
        data = body if isinstance(body, str) else (None if body is None else json.dumps(body))
        return await http_json("POST" if body is not None else "GET", self.hall_url + "/hall/api/" + path,
                               data=data, headers=headers)

    async def press(self, console: str, seat: str, button: str = "za", presence: bool = True) -> None:
        status, _ = await http_json("POST", self.consoles[console] + "/sim/press",
                                    json={"seat": seat, "button": button, "presence": presence})
        assert status == 200

    async def voter(self, voter_id: str) -> dict[str, Any]:
        _, state = await self.sec("state")
        return next(v for v in state["voters"] if v["id"] == voter_id)

    async def registered(self, voter_id: str) -> bool:
        return (await self.voter(voter_id))["registered"]

    async def live(self, voter_id: str) -> str | None:
        return (await self.voter(voter_id))["live"]

    async def live_is(self, voter_id: str, result: str) -> bool:
        return await self.live(voter_id) == result

    async def snapshot(self) -> dict[str, Any]:
        _, state = await self.sec("state")
        return state["snapshot"]


async def test_a_whole_sitting_across_processes_survives_a_killed_hall(tmp_path: Path, procs) -> None:
    hub = HubFixture(tmp_path)
    hub_proc = procs(["hub", "--config", str(hub.config_path)], tmp_path / "hub.log")
    await wait_until(lambda: healthy(hub.url), timeout=20, what="hub")
    s = Sitting(tmp_path, hub, procs)
    hall = s.start_hall()
    s.start_console("consoles-a", ["0", "1", "2"])
    s.start_console("consoles-b", ["3", "4", "5"])
    await wait_until(lambda: len(hub.query("SELECT 1 FROM nodes WHERE online = 1")) == 3, timeout=30,
                     what="hall and both consoles online")
    for name in ("consoles-a", "consoles-b"):
        s.consoles[name] = await s.console_url(name)

    async def consoles_connected() -> bool:
        status, health = await http_json("GET", s.hall_url + "/health")
        return status == 200 and health["roles_health"]["hall"]["consoles"] == 2

    await wait_until(consoles_connected, timeout=30, what="consoles connected to the hall")
    assert (await s.sec("sitting", {"session": 5}))[0] == 200
    assert (await s.sec("agenda", AGENDA, "text/csv"))[0] == 200

    # Registration: total composition 7 seats + head = 8, quorum 5.
    for seat in ("0", "1"):
        await s.press("consoles-a", seat)
    await wait_until(lambda: s.registered("d001"), what="d001 registered")
    await wait_until(lambda: s.registered("head"), what="head registered")
    status, answer = await s.sec("votes", {"agenda_index": 0})
    assert status == 409 and answer["error"]["code"] == "no_quorum"
    await s.press("consoles-a", "2")
    await s.press("consoles-b", "3")
    await s.press("consoles-b", "4")
    await wait_until(lambda: s.snapshot(), what="snapshot")
    await wait_until(lambda: _quorum(s), what="quorum")

    # Vote 1, procedural (more than half of the 5 registered: 3).
    status, answer = await s.sec("votes", {"agenda_index": 0})
    assert status == 200 and answer["state"]["vote"]["threshold"] == 3
    uid1 = answer["state"]["vote"]["uid"]
    for seat in ("0", "1", "2"):
        await s.press("consoles-a", seat, "za")
    await s.press("consoles-b", "3", "proty")
    await s.press("consoles-b", "4", "za", presence=False)  # refused at the console: presence not held
    await wait_until(lambda: s.live_is("d003", "Проти"), what="d003's ballot")
    await wait_until(lambda: s.live_is("d002", "За"), what="d002's ballot")
    status, leds = await http_json("GET", s.consoles["consoles-a"] + "/sim/leds")
    assert leds["1"]["za"] is True and leds["1"]["proty"] is False
    assert (await s.live("d004")) == "Не голосував"
    await s.sec(f"votes/{uid1}/close", {})

    # Vote 2, majority of the total composition (5): fails; a manual entry for a failed console.
    status, answer = await s.sec("votes", {"agenda_index": 1})
    uid2 = answer["state"]["vote"]["uid"]
    assert answer["state"]["vote"]["threshold"] == 5
    for seat in ("0", "1", "2"):
        await s.press("consoles-a", seat, "za")
    await s.press("consoles-b", "3", "utrymavsia")
    status, _ = await s.sec(f"votes/{uid2}/manual", {"voter_id": "d005", "choice": "Проти",
                                                     "operator": "Секретар Олійник", "reason": "пульт не працює"})
    assert status == 200
    await wait_until(lambda: s.live_is("d003", "Утримався"), what="abstention")
    await wait_until(lambda: s.live_is("d002", "За"), what="d002 in vote 2")
    await s.sec(f"votes/{uid2}/close", {})

    # Vote 3, two thirds of the total composition (6): the hall is killed mid-vote.
    status, answer = await s.sec("votes", {"agenda_index": 2})
    uid3 = answer["state"]["vote"]["uid"]
    assert answer["state"]["vote"]["threshold"] == 6
    for seat in ("0", "1", "2"):
        await s.press("consoles-a", seat, "za")
    await wait_until(lambda: _voted(s, 3), what="three ballots before the kill")
    hall.signal(signal.SIGKILL)
    hall.p.wait(10)
    s.start_hall("hall-2.log")
    await wait_until(lambda: healthy(s.hall_url), timeout=30, what="hall back")
    snap = await s.snapshot()
    assert snap["vote"]["uid"] == uid3 and snap["vote"]["voted"] == 3, "no ballot lost across SIGKILL"
    await wait_until(consoles_connected, timeout=30, what="consoles reconnected")
    await s.press("consoles-b", "3", "za")
    await s.press("consoles-b", "4", "za")
    await wait_until(lambda: _voted(s, 5), what="ballots after the restart")
    await s.sec(f"votes/{uid3}/close", {})

    # Vote 4 is cancelled.
    status, answer = await s.sec("votes", {"agenda_index": 3})
    uid4 = answer["state"]["vote"]["uid"]
    status, _ = await s.sec(f"votes/{uid4}/cancel", {"reason": "технічна перерва", "operator": "Голова"})
    assert status == 200

    day = (await s.snapshot())["date"]

    async def published() -> list[dict[str, str]] | None:
        status, text = await http_json("GET", f"{hub.url}/opendata/voting/{day}/8-5/motions.csv")
        rows = list(csv.DictReader(io.StringIO(text))) if status == 200 else []
        return rows if len(rows) == 4 else None

    motions = await wait_until(published, timeout=30, what="four motions at the hub")
    by_uid = {m["uid"]: m for m in motions}
    assert (by_uid[uid1]["votingResult"], by_uid[uid1]["votingFor"], by_uid[uid1]["votingAgainst"]) == \
        ("Прийнято", "3", "1")
    assert (by_uid[uid2]["votingResult"], by_uid[uid2]["votingFor"], by_uid[uid2]["votingAbstain"],
            by_uid[uid2]["votingAgainst"]) == ("Не прийнято", "3", "1", "1")
    assert (by_uid[uid3]["votingResult"], by_uid[uid3]["votingFor"]) == ("Не прийнято", "5")
    assert by_uid[uid4]["votingResult"] == "Не голосували"
    status, text = await http_json("GET", f"{hub.url}/opendata/voting/{day}/8-5/votings.csv")
    votings = [r for r in csv.DictReader(io.StringIO(text)) if r["motionUid"] == uid2]
    assert {r["voterId"]: r["result"] for r in votings} == {
        "head": "За", "d001": "За", "d002": "За", "d003": "Утримався", "d004": "Не голосував",
        "d005": "Проти", "d006": "Відсутній"}
    hub_proc.stop()


async def _quorum(s: Sitting) -> bool:
    return (await s.snapshot())["quorum_met"]


async def _voted(s: Sitting, n: int) -> bool:
    snap = await s.snapshot()
    return bool(snap["vote"]) and snap["vote"]["voted"] >= n
