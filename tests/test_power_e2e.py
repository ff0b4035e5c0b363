"""A blackout end to end across processes: a hub and a power node on mock pins.

The grid is cut at the node's simulated mains input; the generator must
start after the confirmation delay, warm up and take the load; when the
grid returns and stays, it must cool down and stop. What the technicians
see — alerts opened and closed, events in order, readings — is read from
the hub's own database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import ROOT, HubFixture, Proc, healthy, http_json, wait_until

# The `hromada` command as installed: edge.roles names the power role and its hub extension.
SHIM = "import sys; from edge.cli import main; sys.exit(main(sys.argv[1:]))"

NODE = """[roles.power]
tick_s = 0.1
history_step_s = 1
nut_port = 0
[roles.power.ups]
driver = "q1"
url = "sim"
poll_interval_s = 0.2
battery_cells = 12
runtime_full_load_s = 900
[roles.power.mains]
pin = 17
hold_s = 0.1
[roles.power.generator]
control = "two-wire"
run_pin = 22
running_pin = 23
output_pin = 24
running_hold_s = 0.1
fuel_channel = 0
[roles.power.policy]
mains_confirm_s = 0.5
mains_stable_s = 1.0
start_timeout_s = 3
warmup_s = 0.5
cooldown_s = 1.0
min_run_s = 1.0
"""


class ShimProc(Proc):
    def start(self) -> "ShimProc":
        out = open(self.log, "ab")
        self.p = subprocess.Popen([sys.executable, "-c", SHIM, *self.args], stdout=out, stderr=out, cwd=ROOT,
                                  env={**os.environ, **(self.env or {})}, start_new_session=True)
        out.close()
        return self


@pytest.fixture
def shim_procs() -> Iterator[Any]:
    started: list[ShimProc] = []

    def spawn(args: list[str], log: Path) -> ShimProc:
        p = ShimProc(args, log).start()
        started.append(p)
        return p

    yield spawn
    for p in started:
        if p.p is not None and p.p.poll() is None:
            p.signal(signal.SIGCONT)
        p.stop()


def events(hub: HubFixture) -> list[tuple[str, str]]:
    return [(json.loads(p)["event"], at) for p, at in hub.query(
        "SELECT payload, created_at FROM events WHERE kind = 'power.event' ORDER BY id")]


def alert_state(hub: HubFixture, key: str) -> str:
    rows = hub.query("SELECT cleared_at FROM alerts WHERE dedup_key LIKE ? ORDER BY id DESC", f"%:{key}")
    return "none" if not rows else ("open" if rows[0][0] is None else "cleared")


async def test_mains_cut_starts_the_generator_and_its_return_cools_it_down_and_stops_it(
        tmp_path: Path, shim_procs: Any) -> None:
    hub = HubFixture(tmp_path)
    shim_procs(["hub", "--config", str(hub.config_path)], tmp_path / "hub.log")
    await wait_until(lambda: healthy(hub.url), timeout=20, what="hub")
    cfg = tmp_path / "power.toml"
    cfg.write_text(f'[node]\nname = "power"\nsite = "rada"\nroles = ["power"]\nstate_dir = "{tmp_path / "power"}"\n'
                   f'port = 0\n[hub]\nurl = "{hub.url}"\nenrollment_code = "{hub.code(role="power")}"\n'
                   f'[discovery]\nenabled = false\n[gpio]\npin_factory = "mock"\n' + NODE)
    node = shim_procs(["node", "--config", str(cfg)], tmp_path / "power.log")
    rows = await wait_until(lambda: hub.query("SELECT port FROM nodes WHERE name = 'power' AND online = 1"),
                            timeout=30, what="power node online")
    url = f"http://127.0.0.1:{rows[0][0]}"
    await wait_until(lambda: _ready(url), timeout=10, what="first UPS reading")

    assert (await http_json("POST", url + "/sim/mains", json={"present": False}))[0] == 200
    await wait_until(lambda: alert_state(hub, "mains-lost") == "open", timeout=10, what="mains-lost alert")
    await wait_until(lambda: alert_state(hub, "generator-running") == "open", timeout=15, what="generator running")
    await wait_until(lambda: "GEN_RUNNING" in dict(events(hub)), timeout=10, what="generator on load")
    assert alert_state(hub, "ups-onbatt:ups") in ("open", "cleared"), "the UPS bridged the gap on its battery"

    assert (await http_json("POST", url + "/sim/mains", json={"present": True}))[0] == 200
    await wait_until(lambda: "GEN_STOP" in dict(events(hub)), timeout=15, what="generator stopped")
    await wait_until(lambda: alert_state(hub, "generator-running") == "cleared", timeout=10, what="running cleared")
    assert alert_state(hub, "mains-lost") == "cleared"

    names = [e for e, _ in events(hub)]
    order = ["MAINS_LOST", "GEN_START", "GEN_RUNNING", "MAINS_BACK", "GEN_STOP"]
    assert [names.index(e) for e in order] == sorted(names.index(e) for e in order), names
    at = dict(events(hub))
    back, stop = (datetime.fromisoformat(at[e].replace("Z", "+00:00")) for e in ("MAINS_BACK", "GEN_STOP"))
    assert (stop - back).total_seconds() >= 1.0 + 1.0, "stable mains, then the cool-down, before the stop"
    _, sim = await http_json("GET", url + "/sim/state")
    assert sim["generator"]["relays"] == {"run": False} and not sim["generator"]["running"]
    _, st = await http_json("GET", url + "/power/api/state")
    assert st["generator"]["starts"] == 1 and st["generator"]["run_hours"] > 0
    readings = [json.loads(p) for (p,) in hub.query("SELECT payload FROM events WHERE kind = 'power.reading'")]
    assert readings and all("fuel_percent" in r and "ups_charge" in r for r in readings)
    assert node.stop() == 0, node.output()[-2000:]


async def _ready(url: str) -> bool:
    status, st = await http_json("GET", url + "/power/api/state")
    return status == 200 and not st["ups"]["stale"]
