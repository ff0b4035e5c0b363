"""The camera relay of ``hromada demo``: four simulated cameras of «Безпечна громада».

The relay runs the demo scenario (`cameras.scenario`): one camera freezes,
one goes black, one is killed, and later all come back, so technicians see
the verdicts arrive at the hub and clear. The links printed carry a viewer
token for a technician, minted with the hub's key from the demo's state
directory (in the field the hub issues tokens to signed-in people).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cameras.tokens import mint_viewer_token
from edge.demo import DemoNode
from edge.identity import Identity

SITE = "bezpechna"
NODE = "cameras"
CAMERAS = (
    ("cam-school", "Школа №1, головний вхід", "вул. Шевченка, 12", "sim:rtsp"),
    ("cam-square", "Центральна площа", "майдан Незалежності", "sim:mjpeg"),
    ("cam-cnap", "ЦНАП, зала очікування", "вул. Соборна, 3", "sim:mjpeg"),
    ("cam-park", "Парк, дитячий майданчик", "парк «Ювілейний»", "sim:mjpeg"),
)


def demo_nodes(state: Path) -> list[DemoNode]:
    lines = ["[roles.camera]", 'scenario = "demo"']
    for cam_id, name, location, url in CAMERAS:
        lines += ["[[roles.camera.cameras]]", f'id = "{cam_id}"', f'name = "{name}"', f'location = "{location}"',
                  f'url = "{url}"', "expected_fps = 10.0"]
    return [DemoNode(NODE, SITE, ("camera",), "\n".join(lines) + "\n")]


def demo_token(state: Path, ttl_s: float = 12 * 3600) -> str:
    """A technician's viewer token, sealed with the demo hub's key."""
    hub = Identity.load_or_create(state / "hub", "hub.key", prefix="h")
    return mint_viewer_token(hub, "demo-technician", "technician", ttl_s=ttl_s, site=SITE)


def demo_links(state: Path, hub_nodes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Where to look at the cameras in the demo."""
    node = next((n for n in hub_nodes if n["name"] == NODE), None)
    if node is None or not node.get("port"):
        return []
    url = f"http://127.0.0.1:{node['port']}"
    token = demo_token(state)
    links = [("Камери (JSON) / Cameras", f"{url}/cameras?token={token}")]
    for cam_id, name, _, _ in CAMERAS:
        links.append((f"{name} / preview", f"{url}/cameras/{cam_id}/preview.mjpeg?token={token}"))
    links.append(("Потік / Stream (VLC, ffplay)", f"{url}/cameras/{CAMERAS[0][0]}/stream?token={token}"))
    links.append(("Тривоги / Alerts", "{hub}/api/v1/alerts"))
    return links
