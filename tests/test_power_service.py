"""The power role in a real node against a real hub (both in this loop): alerts, NUT, counters, shutdowns.

The UPS is the simulated Q1 unit on a pty (``ups.url = "sim"``), the grid and
the generator are simulated on mock pins, and the test plays them through
the node's own ``/sim`` routes, as a test in another process would. What
counts is what the hub stored.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from edge.config import load_node_config
from edge.node import Node
from power.nutclient import NutClient
from power.nutproto import NutRemoteError
from tests.conftest import HubFixture, free_port, http_json, node_toml, wait_until

UPSC = shutil.which("upsc")

FAST_POLICY = """[roles.power.policy]
mains_confirm_s = 0.3
mains_stable_s = 0.5
start_timeout_s = 2.0
start_attempts = 2
retry_pause_s = 0.2
warmup_s = 0.3
cooldown_s = 0.3
min_run_s = 0.5
"""
GENERATOR = """[roles.power.mains]
pin = 17
hold_s = 0.05
[roles.power.generator]
control = "two-wire"
run_pin = 22
running_pin = 23
running_hold_s = 0.05
"""


def power_toml(*, nut_port: int = 0, ups: str = 'driver = "q1"\nurl = "sim"', extra: str = "",
               generator: bool = False, **top: Any) -> str:
    lines = ["[roles.power]", "tick_s = 0.1", f"nut_port = {nut_port}"] + [f"{k} = {json.dumps(v)}"
                                                                          for k, v in top.items()]
    text = "\n".join(lines) + f"\n[roles.power.ups]\n{ups}\npoll_interval_s = 0.1\n"
    return text + (GENERATOR + FAST_POLICY if generator else "") + extra


class PowerHub(HubFixture):
    """A hub; its power extension (orderly shutdowns) comes from edge.roles.HUB_EXTENSIONS, as on the server."""


@pytest.fixture
async def power_hub(tmp_path: Path) -> Any:
    h = PowerHub(tmp_path)
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
async def power_node(tmp_path: Path, power_hub: PowerHub) -> Any:
    started: list[Node] = []

    async def start(name: str, settings: str) -> Node:
        path = tmp_path / f"{name}.toml"
        path.write_text(node_toml(tmp_path / name, name, ["power"], power_hub.url, power_hub.code(role="power"), extra=settings))
        node = Node(load_node_config(path))
        await node.start()
        started.append(node)
        await wait_until(node.hub.connected.is_set, timeout=10, what=f"{name} connected to the hub")
        return node

    yield start
    for node in reversed(started):
        await node.stop()


async def state(node: Node) -> dict[str, Any]:
    return (await http_json("GET", node.server.url + "/power/api/state"))[1]


def alert(hub: HubFixture, key: str) -> tuple[Any, ...] | None:
    rows = hub.query("SELECT severity, message, cleared_at FROM alerts WHERE dedup_key LIKE ? ORDER BY id DESC",
                     f"%:{key}")
    return rows[0] if rows else None


def open_alert(hub: HubFixture, key: str) -> bool:
    a = alert(hub, key)
    return a is not None and a[2] is None


def hub_events(hub: HubFixture) -> list[str]:
    return [json.loads(p)["event"] for (p,) in hub.query(
        "SELECT payload FROM events WHERE kind = 'power.event' ORDER BY id")]


async def test_garbled_ups_replies_become_commbad_then_nocomm_at_the_hub_and_clear_when_it_answers(
        power_hub: PowerHub, power_node: Any) -> None:
    node = await power_node("power", power_toml(ups='driver = "q1"\nurl = "sim"\ncommbad_after = 2\n'
                                                   'nocomm_after = 4', nut_port=free_port()))
    url = node.server.url
    await wait_until(lambda: _fresh(node), what="a first good reading")
    for kind in ("wrong-length", "at-fields", "echo", "noise"):  # each is refused and counted, none crashes
        await http_json("POST", url + "/sim/ups", json={"garble": kind, "count": 1})
        await asyncio.sleep(0.25)
    await http_json("POST", url + "/sim/ups", json={"garble": "silence"})
    await wait_until(lambda: open_alert(power_hub, "ups-comm:ups"), timeout=10, what="COMMBAD alert at the hub")
    await wait_until(lambda: open_alert(power_hub, "ups-nocomm:ups"), timeout=10, what="NOCOMM alert at the hub")
    assert alert(power_hub, "ups-nocomm:ups")[0] == "critical"
    st = await state(node)
    assert st["ups"]["stale"] and st["ups"]["variables"] == {}, "no invented values while it is silent"
    assert st["ups"]["failures"] >= 4 + 4
    nut = node.roles[0].nut
    async with NutClient("127.0.0.1", nut.port) as client:
        with pytest.raises(NutRemoteError) as err:
            await client.get_var("ups", "ups.status")
    assert err.value.code == "DATA-STALE"
    await http_json("POST", url + "/sim/ups", json={"garble": None})
    await wait_until(lambda: not open_alert(power_hub, "ups-nocomm:ups") and not open_alert(power_hub, "ups-comm:ups"),
                     timeout=10, what="communication alerts cleared")
    await wait_until(lambda: {"COMMBAD", "NOCOMM", "COMMOK"} <= set(hub_events(power_hub)), what="events at the hub")


async def _fresh(node: Node) -> bool:
    st = await state(node)
    return not st["ups"]["stale"]


@pytest.mark.skipif(UPSC is None, reason="upsc absent (Debian: apt-get install nut-client)")
async def test_the_real_upsc_reads_the_nodes_ups_and_sees_it_go_on_battery(power_hub: PowerHub,
                                                                          power_node: Any) -> None:
    port = free_port()
    node = await power_node("power", power_toml(nut_port=port, extra="battery_cells = 12\n"))
    await wait_until(lambda: _fresh(node), what="a first good reading")

    async def upsc() -> dict[str, str]:
        proc = await asyncio.create_subprocess_exec(UPSC, f"ups@127.0.0.1:{port}", stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        return dict(line.split(": ", 1) for line in out.decode().splitlines() if ": " in line)

    before = await upsc()
    assert before["ups.status"].split()[0] == "OL" and before["device.model"] == "Q1-SIM-1K"
    assert before["battery.charge.estimated"] == "yes", "a Q1 charge is labelled an estimate"
    await http_json("POST", node.server.url + "/sim/mains", json={"present": False})

    async def on_battery() -> bool:
        return "OB" in (await upsc()).get("ups.status", "").split()
    await wait_until(on_battery, timeout=10, what="upsc shows OB")
    await wait_until(lambda: open_alert(power_hub, "ups-onbatt:ups"), what="on-battery alert at the hub")
    assert open_alert(power_hub, "mains-lost"), "without a mains sensor the UPS says whether mains is there"


async def test_a_restart_keeps_the_generators_run_hours_and_starts(power_hub: PowerHub, power_node: Any,
                                                                   tmp_path: Path) -> None:
    node = await power_node("power", power_toml(generator=True))
    url = node.server.url
    await http_json("POST", url + "/sim/mains", json={"present": False})
    await wait_until(lambda: _phase(node, "running"), timeout=10, what="generator on load")
    await asyncio.sleep(0.5)
    await http_json("POST", url + "/sim/mains", json={"present": True})
    await wait_until(lambda: _phase(node, "stopped"), timeout=10, what="generator stopped after cool-down")
    before = (await state(node))["generator"]
    assert before["starts"] == 1 and before["run_hours"] > 0
    await node.stop()
    again = Node(load_node_config(tmp_path / "power.toml"))
    await again.start()
    try:
        after = (await state(again))["generator"]
        assert after["starts"] == 1 and after["run_hours"] == pytest.approx(before["run_hours"], abs=1e-4)
    finally:
        await again.stop()


async def _phase(node: Node, phase: str) -> bool:
    return (await state(node))["generator"]["phase"] == phase


async def test_a_set_that_never_starts_alarms_the_hub_and_a_technicians_reset_clears_it(
        power_hub: PowerHub, power_node: Any, tmp_path: Path) -> None:
    node = await power_node("power", power_toml(generator=True))
    url = node.server.url
    await http_json("POST", url + "/sim/generator", json={"always_fail": True})
    await http_json("POST", url + "/sim/mains", json={"present": False})
    await wait_until(lambda: open_alert(power_hub, "generator:GEN_FAIL"), timeout=10, what="GEN_FAIL at the hub")
    assert alert(power_hub, "generator:GEN_FAIL")[0] == "critical"
    assert (await http_json("POST", url + "/power/api/command", json={"command": "reset-failure"}))[0] == 401
    token = (tmp_path / "power" / "power.token").read_text().strip()
    status, answer = await http_json("POST", url + "/power/api/command", json={"command": "reset-failure"},
                                     headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and "GEN_FAIL" not in answer["alarms"]
    await wait_until(lambda: not open_alert(power_hub, "generator:GEN_FAIL"), what="GEN_FAIL cleared at the hub")
    status, _ = await http_json("POST", url + "/power/api/command", json={"command": "explode"},
                                headers={"Authorization": f"Bearer {token}"})
    assert status == 400


async def test_a_critical_ups_shuts_the_planned_node_down_through_the_hub_then_itself(
        power_hub: PowerHub, power_node: Any) -> None:
    port = free_port()
    plan = ("[roles.power.shutdown]\nself_after_s = 0.5\n[[roles.power.shutdown.steps]]\n"
            "target = \"office\"\nafter_s = 0.3\n")
    main = await power_node("power", power_toml(nut_port=port, extra=plan))
    # The office board watches the power node's UPS over NUT, as an upsmon secondary would.
    office = await power_node("office", power_toml(ups=f'driver = "nut"\nhost = "127.0.0.1"\nport = {port}\n'
                                                       f'ups = "ups"', nut_server=False,
                                                   extra="[roles.power.shutdown]\nself_after_s = 60\n"))
    await wait_until(lambda: _fresh(office), timeout=10, what="office reads the UPS over NUT")
    await http_json("POST", main.server.url + "/sim/ups", json={"state": "low-battery"})
    await wait_until(lambda: open_alert(power_hub, "ups-shutdown"), timeout=10, what="shutdown alert at the hub")
    requests = office.roles[0].service.shutdown.requests
    await wait_until(lambda: any(r["by"] == main.id for r in requests), timeout=10,
                     what="the hub's shutdown command at the office")
    await wait_until(lambda: main.roles[0].service.shutdown.requested, timeout=10, what="the power node last")
    rows = power_hub.query("SELECT target, state, target_node_id FROM power_shutdowns")
    assert rows == [("office", "sent", office.id)]
    events = hub_events(power_hub)
    assert events.index("SHUTDOWN_HOST") < events.index("SHUTDOWN_SELF")
    assert "S.5R0003" in main.roles[0].service.ups.sim.received, "the UPS is told to cut and come back"
    async with NutClient("127.0.0.1", port) as client:
        assert "FSD" in (await client.get_var("ups", "ups.status")).split()
