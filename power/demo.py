"""The power room of ``hromada demo``: a power node with a simulated UPS, grid and generator.

The node's scenario (``power.sim.Scenario``) plays by itself: a blackout, the
generator's start, warm-up and load; the grid's return, cool-down and stop;
then a blackout in which the generator fails and the UPS runs low — the
low-battery shutdown warning (the FSD on the NUT server, the shutdown alert
at the hub, this node's own shutdown recorded, not carried out).
"""

from __future__ import annotations

import socket
from pathlib import Path

from edge.demo import DemoNode

NAME = "power"

POLICY = """[roles.power.policy]
mains_confirm_s = 3
mains_stable_s = 15
start_timeout_s = 8
start_attempts = 2
retry_pause_s = 3
warmup_s = 5
cooldown_s = 10
min_run_s = 20
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_nodes(state: Path) -> list[DemoNode]:
    nut_port = _free_port()
    (state / "power-nut-port").write_text(str(nut_port))
    settings = (
        f'[roles.power]\nscenario = "demo"\nnut_port = {nut_port}\nhistory_step_s = 10\n'
        '[roles.power.ups]\ndriver = "q1"\nurl = "sim"\ndescription = "Демо-ДБЖ / demo UPS"\n'
        "battery_cells = 12\nruntime_full_load_s = 900\n"
        "[roles.power.mains]\npin = 17\n"
        '[roles.power.generator]\ncontrol = "two-wire"\nrun_pin = 22\nrunning_pin = 23\noutput_pin = 24\n'
        "load_pin = 25\nfuel_channel = 0\n"
        + POLICY
        + "[roles.power.shutdown]\nself_after_s = 20\n")
    return [DemoNode(NAME, "rada", ("power",), settings)]


def demo_links(state: Path, hub_nodes: list[dict]) -> list[tuple[str, str]]:
    """Where to look at the power room in the demo."""
    node = next((n for n in hub_nodes if n["name"] == NAME), None)
    if node is None or not node.get("port"):
        return []
    url = f"http://127.0.0.1:{node['port']}"
    port_file = state / "power-nut-port"
    nut = port_file.read_text().strip() if port_file.exists() else "3493"
    return [
        ("Живлення, стан / Power state", f"{url}/power/api/state"),
        ("Журнал подій / Event log", f"{url}/power/api/events"),
        ("Графік 24 год / 24 h graph data", f"{url}/power/api/history?range=24h"),
        ("Імітатор / Simulator", f"{url}/sim/state"),
        ("ДБЖ через NUT / UPS over NUT", f"upsc ups@127.0.0.1:{nut}"),
    ]
