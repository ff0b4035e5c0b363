"""The console role against a hall speaking the real sealed protocol, on gpiozero mock pins.

The hall here is a test double of the peer (the real hall, ``voting.hall.api``,
gets its own end-to-end test): a real aiohttp server that accepts the console
with ``edge.peers.accept_peer`` against a roster and answers per
``voting.protocol``. Everything on the console side is the real code.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from edge.config import ConfigError, parse_node_config
from edge.discovery import NODE_SERVICE, Discovery, txt_properties
from edge.hubclient import HubClient
from edge.identity import Identity
from edge.metrics import Metrics
from edge.node import NODE_MIGRATIONS, RoleContext
from edge.outbox import Outbox
from edge.peers import NonceCache, PeerConnection, accept_peer
from edge.store import Store
from edge.web import MAX_BODY
from tests.conftest import wait_until
from voting.console.role import create
from voting.console.service import ConsoleRole
from voting.console.settings import parse_console_config
from voting.protocol import CONSOLE_PATH
from voting.console.sim import Scenario, SeatSimulator

SEAT_1 = {"seat": "1", "za": 5, "proty": 6, "utrymavsia": 13, "presence": 19,
          "led_za": 20, "led_proty": 21, "led_utrymavsia": 26, "led_status": 16}
SEAT_2 = {"seat": "2", "za": 17, "proty": 27, "utrymavsia": 22, "presence": 23,
          "led_za": 24, "led_proty": 25, "led_utrymavsia": 12, "led_status": 4,
          "card_reader": {"url": "sim"}, "demo_card": "0A1B2C3D4E"}


class HallDouble:
    """The hall's side of the console protocol, as small as these tests need."""

    def __init__(self, tmp: Path) -> None:
        self.identity = Identity.load_or_create(tmp / "hall")
        self.consoles: dict[str, str] = {}  # the roster the hub would give the hall: node id -> key
        self.nonces = NonceCache()
        self.received: list[dict[str, Any]] = []
        self.conns: list[PeerConnection] = []
        self.seats = {"1": {"deputy": "Бондаренко О. П.", "registered": False, "choice": None},
                      "2": {"deputy": "Коваль І. М.", "registered": False, "choice": None}}
        self.cards = {"0A1B2C3D4E": "2", "1122334455": "1"}
        self.vote: dict[str, Any] | None = None
        self.registration_open = False
        self.answering = asyncio.Event()
        self.answering.set()
        self.accepting = True
        self.app = web.Application()
        self.app.router.add_get(CONSOLE_PATH, self.console_ws)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("type") == kind]

    async def console_ws(self, request: web.Request) -> web.StreamResponse:
        if not self.accepting:
            raise web.HTTPServiceUnavailable()
        conn = await accept_peer(request, self.identity, self.consoles.get, self.nonces)
        self.conns.append(conn)
        async for msg in conn.messages():
            self.received.append(msg)
            await self.answering.wait()
            await self.answer(conn, msg)
        return conn.ws

    async def answer(self, conn: PeerConnection, msg: dict[str, Any]) -> None:
        kind, seat = msg["type"], self.seats.get(msg.get("seat", ""))
        refused = {"type": "refused", "id": msg.get("id"), "seat": msg.get("seat"), "message": "Відмова.",
                   "message_en": "Refused."}
        if kind == "hello":
            await conn.send(self.state())
        elif kind == "press" and seat is not None:
            if msg["presence"] is not True:
                await conn.send({**refused, "code": "presence_required"})
            elif self.vote is not None and msg["vote"] == self.vote["uid"]:
                seat["choice"] = msg["choice"]
                await conn.send({"type": "ack", "id": msg["id"], "seat": msg["seat"], "kind": "ballot",
                                 "choice": msg["choice"]})
            elif self.vote is None and self.registration_open:
                seat["registered"] = True
                await conn.send({"type": "ack", "id": msg["id"], "seat": msg["seat"], "kind": "registered"})
            else:
                await conn.send({**refused, "code": "no_vote_open"})
            await conn.send(self.state())
        elif kind == "card" and seat is not None:
            if self.cards.get(msg["card"]) != msg["seat"]:
                await conn.send({**refused, "code": "card_other_seat"})
                return
            seat["registered"] = True
            await conn.send({"type": "ack", "id": msg["id"], "seat": msg["seat"], "kind": "registered"})
            await conn.send(self.state())

    def state(self) -> dict[str, Any]:
        return {"type": "state", "vote": self.vote, "registration_open": self.registration_open,
                "seats": {k: dict(v) for k, v in self.seats.items()}}

    async def change(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        if self.vote is None:
            for seat in self.seats.values():
                seat["choice"] = None
        for conn in self.conns:
            if not conn.ws.closed:
                await conn.send(self.state())


@pytest.fixture
async def hall(tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[HallDouble]:
    double = HallDouble(tmp_path)
    server = await aiohttp_server(double.app)
    double.url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    yield double


Console = Callable[..., Awaitable[ConsoleRole]]


@pytest.fixture
async def console(tmp_path: Path, hall: HallDouble) -> AsyncIterator[Console]:
    """Start a console role (real objects all round) connected to the hall double."""
    started: list[tuple[ConsoleRole, Store]] = []

    async def start(seats: list[dict[str, Any]] | None = None, discovery: Discovery | None = None,
                    **settings: Any) -> ConsoleRole:
        table = {"hall_url": "" if discovery else hall.url, "seats": seats or [SEAT_1], **settings}
        config = parse_node_config({
            "node": {"name": "pult-1", "site": "rada", "roles": ["console"], "state_dir": str(tmp_path / "pult")},
            "discovery": {"enabled": discovery is not None}, "gpio": {"pin_factory": "mock"},
            "roles": {"console": table},
        }, tmp_path / "pult.toml")
        identity = Identity.load_or_create(tmp_path / "pult")
        store = await Store.open(tmp_path / "pult" / "node.sqlite", NODE_MIGRATIONS)
        hub = HubClient(config, identity, store, None, lambda: 0)
        hub.roster = [{"node_id": hall.identity.id, "name": "hall", "roles": ["hall"],
                       "public_key": hall.identity.public_key_b64}]
        hall.consoles[identity.id] = identity.public_key_b64
        app = web.Application()
        app[MAX_BODY] = 1024 * 1024
        ctx = RoleContext(config, config.roles["console"], identity, store, Outbox(store), hub,
                          Metrics(), app, discovery)
        role = await create(ctx)
        started.append((role, store))
        await role.start()
        await wait_until(lambda: role.connected and all(v.known for v in role.views.values()), timeout=5,
                         what="the console to connect and get the hall's state")
        return role

    yield start
    for role, store in started:
        await role.stop()
        await store.close()


def status(role: ConsoleRole, seat: str = "1") -> str:
    return role.seats[seat].status.pattern


def lit(role: ConsoleRole, seat: str = "1") -> dict[str, Any]:
    return role.seats[seat].lights()


# -- configuration --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("table, key, reason", [
    ({}, "roles.console.seats", "at least one seat"),
    ({"seats": [SEAT_1], "sets": 1}, "roles.console.sets", "unknown key"),
    ({"seats": [{**SEAT_1, "za": 40}]}, "roles.console.seats[0].za", "from 0 to 27"),
    ({"seats": [{**SEAT_1, "seat": 1}]}, "roles.console.seats[0].seat", "must be a string"),
    ({"seats": [SEAT_1, {**SEAT_2, "led_status": 6}]}, "roles.console.seats[1].led_status", "already used by"),
    ({"seats": [SEAT_1, {**SEAT_1, "za": 7}]}, "roles.console.seats[1].seat", "listed twice"),
    ({"seats": [{k: v for k, v in SEAT_1.items() if k != "presence"}]}, "roles.console.seats[0].presence",
     "presence_required"),
    ({"seats": [SEAT_1, SEAT_2], "card_reader": {"url": "/dev/ttyUSB0"}}, "roles.console.card_reader.seat",
     "name the seat"),
    ({"seats": [SEAT_1], "flap_edges": 1}, "roles.console.flap_edges", "at least 2"),
    ({"seats": [SEAT_1], "scenario": "party"}, "roles.console.scenario", "demo"),
])
def test_a_wrong_console_table_is_refused_with_its_key_and_reason(table: dict[str, Any], key: str,
                                                                  reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_console_config({"hall_url": "http://10.0.0.5:8700", **table}, "pult.toml")
    assert caught.value.key == key and reason in caught.value.reason and caught.value.path == "pult.toml"


def test_simulated_parts_and_a_hall_without_address_need_their_prerequisites() -> None:
    with pytest.raises(ConfigError, match="seats\\[0\\].card_reader.url: a simulated reader needs"):
        parse_console_config({"hall_url": "http://h:1", "seats": [{**SEAT_1, "card_reader": {"url": "sim"}}]},
                             "p.toml", pin_factory_name="lgpio")
    with pytest.raises(ConfigError, match="hall_url: is required while"):
        parse_console_config({"seats": [SEAT_1]}, "p.toml", discovery_enabled=False)
    config = parse_console_config({"seats": [SEAT_1, SEAT_2]}, "p.toml")
    assert config.readers == (("2", "sim"),) and config.settings.presence_required is True


# -- console and hall -----------------------------------------------------------------------------------------

async def test_registration_then_a_ballot_lights_its_led_only_once_the_hall_acknowledged(
        console: Console, hall: HallDouble) -> None:
    role = await console()
    sim = SeatSimulator(role.seats["1"])
    await hall.change(registration_open=True)
    await wait_until(lambda: status(role) == "attention", timeout=2, what="the seat to be asked to register")
    await sim.press("za", presence=True)
    await wait_until(lambda: status(role) == "registered", timeout=2)
    await hall.change(registration_open=False, vote={"uid": "2024-09-04-1", "number": "1", "title": "Бюджет"})
    await wait_until(lambda: status(role) == "attention", timeout=2, what="the seat to be asked to vote")

    hall.answering.clear()  # the hall is still committing
    await sim.press("Проти", presence=True)
    await wait_until(lambda: hall.of_type("press")[1:], timeout=2)
    await asyncio.sleep(0.2)
    assert not any(lit(role)[led] for led in ("za", "proty", "utrymavsia"))
    hall.answering.set()
    await wait_until(lambda: lit(role)["proty"], timeout=2)
    assert not lit(role)["za"] and not lit(role)["utrymavsia"] and status(role) == "registered"
    press = hall.of_type("press")[-1]
    assert (press["seat"], press["choice"], press["presence"], press["vote"]) == ("1", "Проти", True, "2024-09-04-1")
    assert uuid.UUID(press["id"]) and press["id"] != hall.of_type("press")[0]["id"]
    assert role.health()["seats"]["1"]["choice"] == "Проти"
    metrics = role.ctx.metrics.render()
    assert 'hromada_console_presses_total{seat="1"} 2' in metrics and "hromada_console_hall_connected 1" in metrics

    await hall.change(vote=None)
    await wait_until(lambda: not lit(role)["proty"], timeout=2, what="the LED to go out when the vote closes")


async def test_a_press_without_presence_is_refused_on_the_console_and_never_sent(
        console: Console, hall: HallDouble) -> None:
    role = await console()
    await hall.change(registration_open=True)
    await SeatSimulator(role.seats["1"]).press("za", presence=False)
    await wait_until(lambda: status(role) == "refused", timeout=2)
    await asyncio.sleep(0.2)
    assert hall.of_type("press") == [] and role.views["1"].refusals == 1
    await wait_until(lambda: status(role) == "attention", timeout=2, what="the refusal flash to end")


async def test_without_the_console_rule_the_press_goes_with_its_presence_and_the_hall_decides(
        console: Console, hall: HallDouble) -> None:
    role = await console(presence_required=False)
    await hall.change(registration_open=True)
    await SeatSimulator(role.seats["1"]).press("za", presence=False)
    await wait_until(lambda: status(role) == "refused", timeout=2)
    assert hall.of_type("press")[0]["presence"] is False and not role.views["1"].registered


async def test_a_lost_hall_shows_on_the_status_led_and_presses_are_refused_not_replayed(
        console: Console, hall: HallDouble) -> None:
    role = await console()
    sim = SeatSimulator(role.seats["1"])
    await hall.change(vote={"uid": "v-1", "number": "1", "title": "Перерва"})
    hall.accepting = False
    for conn in hall.conns:
        await conn.ws.close()
    await wait_until(lambda: not role.connected, timeout=3)
    assert status(role) == "hall_lost" and role.health()["hall_connected"] is False
    await sim.press("za", presence=True)
    await wait_until(lambda: status(role) == "refused", timeout=2)
    assert role.views["1"].refusals == 1
    hall.accepting = True
    await wait_until(lambda: role.connected and len(hall.of_type("hello")) == 2, timeout=5)
    await asyncio.sleep(0.3)
    assert hall.of_type("press") == []  # the press made while away never arrives late
    await wait_until(lambda: status(role) == "off", timeout=2, what="the lost-hall pattern to end")


async def test_a_flapping_button_is_reported_to_the_hall_and_cleared_when_it_settles(
        console: Console, hall: HallDouble) -> None:
    role = await console(flap_edges=6, flap_window_s=0.4, bounce_s=0.01)
    await hall.change(vote={"uid": "v-2", "number": "2", "title": "Звіт"})
    await SeatSimulator(role.seats["1"]).flap("za", edges=12, interval_s=0.02)
    await wait_until(lambda: hall.of_type("fault"), timeout=2)
    assert {k: hall.of_type("fault")[0][k] for k in ("seat", "input", "what")} == \
        {"seat": "1", "input": "za", "what": "flapping"}
    assert role.health()["faults"][0]["input"] == "za"
    await wait_until(lambda: len(hall.of_type("fault")) == 2, timeout=3, what="the all-clear")
    assert hall.of_type("fault")[1]["what"] == "ok" and role.health()["faults"] == []
    assert hall.of_type("press") == [] and hall.seats["1"]["choice"] is None  # no presence: never a ballot


async def test_a_card_registers_its_deputy_and_a_card_of_another_seat_is_refused(
        console: Console, hall: HallDouble) -> None:
    role = await console(seats=[SEAT_1, SEAT_2])
    await hall.change(registration_open=True)
    await wait_until(lambda: role.readers["2"].port_open, timeout=3)
    await role.sim_readers["2"].present("1122334455")  # seat 1's deputy's card
    await wait_until(lambda: status(role, "2") == "refused", timeout=2)
    await role.sim_readers["2"].present("0A1B2C3D4E")
    await wait_until(lambda: status(role, "2") == "registered", timeout=3)
    cards = hall.of_type("card")
    assert [(c["seat"], c["card"]) for c in cards] == [("2", "1122334455"), ("2", "0A1B2C3D4E")]
    assert role.health()["card_readers"]["2"]["cards"] == 2 and not role.views["1"].registered


async def test_sim_routes_play_a_deputy_from_another_process(console: Console, hall: HallDouble,
                                                             aiohttp_client: Any) -> None:
    role = await console(seats=[SEAT_1, SEAT_2])
    client = await aiohttp_client(role.ctx.app)
    await hall.change(registration_open=True)
    await wait_until(lambda: role.readers["2"].port_open, timeout=3)
    assert (await client.post("/sim/press", json={"seat": "1", "button": "За", "presence": True})).status == 200
    assert (await client.post("/sim/card", json={"seat": "2", "card": "0A1B2C3D4E"})).status == 200
    await wait_until(lambda: all(v.registered for v in role.views.values()), timeout=3)
    leds = await (await client.get("/sim/leds")).json()
    assert leds["1"]["status_pattern"] == leds["2"]["status_pattern"] == "registered" and leds["1"]["status"]
    for path, body, code in [("/sim/press", {"seat": "9", "button": "za"}, 404),
                             ("/sim/press", {"seat": "1", "button": "maybe"}, 400),
                             ("/sim/press", {"seat": "1", "button": "za", "presence": "yes"}, 400),
                             ("/sim/card", {"seat": "1", "card": "0A1B2C3D4E"}, 409),
                             ("/sim/card", {"seat": "2", "card": "xyz"}, 400)]:
        resp = await client.post(path, json=body)
        assert resp.status == code, (path, body)
        assert "error" in await resp.json()


async def test_the_demo_scenario_registers_every_seat_and_votes_by_its_plan_on_the_mock_pins(
        console: Console, hall: HallDouble) -> None:
    role = await console(seats=[SEAT_1, SEAT_2], scenario="demo")
    assert isinstance(role.scenario, Scenario)
    role.scenario.rng, role.scenario.pace = random.Random(7), 0.1
    await hall.change(registration_open=True)
    await wait_until(lambda: all(s["registered"] for s in hall.seats.values()), timeout=5)
    assert [c["seat"] for c in hall.of_type("card")] == ["2"]  # the seat with a reader uses its card
    await hall.change(registration_open=False, vote={"uid": "v-3", "number": "3", "title": "Укриття"})
    await wait_until(lambda: "v-3" in role.scenario.plans, timeout=2)
    plan = role.scenario.plans["v-3"]
    assert set(plan) == {"1", "2"} and any(plan.values())
    await wait_until(lambda: all(hall.seats[s]["choice"] == c for s, c in plan.items() if c), timeout=5)
    await asyncio.sleep(0.3)
    assert {s: hall.seats[s]["choice"] for s in plan} == plan


async def test_without_hall_url_the_console_finds_by_mdns_the_hall_the_roster_names(
        console: Console, hall: HallDouble, tmp_path: Path) -> None:
    port = int(hall.url.rsplit(":", 1)[1])
    impostor = Identity.load_or_create(tmp_path / "impostor")
    network = Discovery(["127.0.0.1"])
    own = Discovery(["127.0.0.1"])
    await network.start()
    await own.start()
    try:
        # A node calling itself a hall but not in the roster, announced first on a dead port.
        await network.announce(NODE_SERVICE, "hall-impostor", 9, txt_properties(impostor.id, ("hall",), "0"))
        await network.announce(NODE_SERVICE, "hall-rada", port, txt_properties(hall.identity.id, ("hall",), "0"))
        role = await console(discovery=own)
        assert role.client.peer_id == hall.identity.id and hall.of_type("hello")
    finally:
        await own.close()
        await network.close()
