"""The hall screen's configuration: the ``[roles.hall-display]`` table of the node's file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.config import at_least, build_section, http_url, option

ROLE = "hall-display"


@dataclass(frozen=True, slots=True, kw_only=True)
class HallDisplaySettings:
    """`[roles.hall-display]`: the session hall's big screen."""

    hall_url: str = option("", "Base URL of the hall node, e.g. `http://10.0.0.5:8700`. Empty: find the hall by mDNS "
                             "(a node with role `hall` that is in this site's roster).", http_url)
    width: int = option(1920, "Screen width in pixels (1920×1080 and 1280×720 are laid out and tested).", at_least(640, "pixels"))
    height: int = option(1080, "Screen height in pixels; every size on the screen is a share of it.", at_least(360, "pixels"))
    fullscreen: bool = option(True, "Fill the whole display; `false` opens a window (the demo).")
    png_dir: str = option("", "Directory for PNG pictures of the screen: `current.png` after every update, one file "
                            "per change of what is shown, `result-<uid>.png` per closed vote. Empty: none.")


def load_settings(table: dict[str, Any], path: str) -> HallDisplaySettings:
    """Validate the role's table; a wrong key or value raises ConfigError naming it."""
    return build_section(HallDisplaySettings, table, path, f"roles.{ROLE}")
