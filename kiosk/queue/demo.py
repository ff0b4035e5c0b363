"""The ЦНАП of ``hromada demo``: a queue with a scripted day and the calling screen.

``demo_nodes(state)`` writes the demo catalogue and returns the queue node
(its scenario, :mod:`kiosk.queue.scenario`, plays visitors and operators)
and the calling screen (PNG pictures and WAV files of the spoken calls in
the state directory). ``demo_links`` says where to look.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.demo import DemoNode

#: (group id, title, prefix, area), then (service id, title, group, windows, typical minutes).
GROUPS = (
    ("passport", "Паспорт громадянина України", "А", "Документи"),
    ("residence", "Реєстрація місця проживання", "Р", "Документи"),
    ("social", "Соціальні послуги", "С", "Соціальний захист"),
    ("land", "Земельні питання", "Г", "Земля і нерухомість"),
)
SERVICES = (
    ("id-card", "Оформлення ID-картки", "passport", (1, 2), 15),
    ("passport-abroad", "Закордонний паспорт", "passport", (1, 2), 20),
    ("residence", "Реєстрація місця проживання", "residence", (2, 3), 10),
    ("subsidy", "Житлова субсидія", "social", (3,), 12),
    ("help-families", "Допомога сім'ям з дітьми", "social", (3,), 12),
    ("land-extract", "Витяг з Державного земельного кадастру", "land", (1, 3), 8),
)
WINDOWS = (1, 2, 3)


def write_catalogue(path: Path, hours: str = '{ every_day = ["00:00-24:00"] }', windows: tuple[int, ...] = WINDOWS,
                    services: tuple[tuple[str, str, str, tuple[int, ...], int], ...] = SERVICES) -> Path:
    """The demo centre's catalogue (open around the clock, so the demo runs at any hour)."""
    lines = [f"windows = {list(windows)}", f"hours = {hours}", ""]
    for gid, title, prefix, area in GROUPS:
        lines += ["[[groups]]", f'id = "{gid}"', f'title = "{title}"', f'prefix = "{prefix}"', f'area = "{area}"', ""]
    for sid, title, group, served_by, minutes in services:
        lines += ["[[services]]", f'id = "{sid}"', f'title = "{title}"', f'group = "{group}"',
                  f"windows = {list(served_by)}", f"typical_minutes = {minutes}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def demo_nodes(state: Path) -> list[DemoNode]:
    catalogue = write_catalogue(state / "cnap-catalogue.toml")
    queue = DemoNode("cnap-queue", "cnap", ("queue",),
                     f'[roles.queue]\ncatalogue_file = "{catalogue}"\ncnap_name = "ЦНАП Демонстраційної громади"\n'
                     'community_name = "Демонстраційна сільська територіальна громада"\nscenario = "demo"\n')
    screen = DemoNode("cnap-screen", "cnap", ("queue-display",),
                      '[roles.queue-display]\nwidth = 1280\nheight = 720\nfullscreen = false\n'
                      f'png_dir = "{state / "calling-screen-png"}"\naudio = "file"\n'
                      f'wav_dir = "{state / "calling-screen-wav"}"\n')
    return [queue, screen]


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
        return json.loads(r.read())


def demo_links(state: Path, hub_nodes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Where to look at the ЦНАП in the demo."""
    node = next((n for n in hub_nodes if n["name"] == "cnap-queue"), None)
    if node is None or not node.get("port"):
        return []
    url = f"http://127.0.0.1:{node['port']}"
    token_file = state / "cnap-queue" / "staff.token"
    token = token_file.read_text().strip() if token_file.exists() else ""
    links = [(f"Оператор, вікно {n} / Operator {n}", f"{url}/queue/operator/{n}#token={token}") for n in WINDOWS]
    ticket = f"/queue/ticket/{datetime.now().date().isoformat()}/{urllib.parse.quote('А001')}"
    try:
        board = _get_json(url + "/queue/api/board")
        if board.get("calls"):
            ticket = f"/queue/ticket/{board['day']}/{urllib.parse.quote(board['calls'][0]['label'])}"
    except Exception:
        pass
    links += [
        ("Статус талона / Ticket status", url + ticket),
        ("Табло (PNG) / Calling screen", str(state / "calling-screen-png")),
        ("Виклики (WAV) / Spoken calls", str(state / "calling-screen-wav")),
        ("Статистика (CSV) / Statistics", f"{url}/queue/api/stats.csv?what=service (Bearer {token})"),
    ]
    return links
