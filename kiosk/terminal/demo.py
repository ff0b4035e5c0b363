"""The self-service kiosk of ``hromada demo``: a window (or headless PNGs), the simulated printer, a visitor.

``demo_nodes(state)`` returns the kiosk node (it finds the demo queue by
mDNS, prints to a simulated printer started in its own process, and a
scenario takes a ticket through the touch screen every 15 s);
``demo_links`` says where its pictures and spoken screens are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.demo import DemoNode


def demo_nodes(state: Path) -> list[DemoNode]:
    settings = ("[roles.kiosk]\nprinter = \"sim\"\nprinter_profile = \"epson-80-cp1251\"\nwidth = 1280\n"
                "height = 720\npanel_width_mm = 344.0\npanel_height_mm = 194.0\nfullscreen = false\n"
                f'png_dir = "{state / "kiosk-png"}"\naudio = "file"\nwav_dir = "{state / "kiosk-wav"}"\n'
                'scenario = "demo"\nscenario_every_s = 15.0\n')
    return [DemoNode("cnap-kiosk", "cnap", ("kiosk",), settings)]


def demo_links(state: Path, hub_nodes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [("Кіоск (PNG) / Kiosk screens", str(state / "kiosk-png")),
            ("Кіоск, озвучення (WAV) / Kiosk speech", str(state / "kiosk-wav"))]
