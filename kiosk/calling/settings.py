"""The calling screen's configuration: the ``[roles.queue-display]`` table of the node's file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.config import at_least, build_section, http_url, one_of, option

ROLE = "queue-display"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallingSettings:
    """`[roles.queue-display]`: the ЦНАП hall's calling screen, with spoken calls."""

    queue_url: str = option("", "Base URL of the queue node, e.g. `http://10.0.0.7:8700`. Empty: find it by mDNS "
                            "(a node with role `queue` in this site's roster).", http_url)
    width: int = option(1920, "Screen width in pixels (1920×1080 and 1280×720 are laid out and tested).",
                        at_least(640, "pixels"))
    height: int = option(1080, "Screen height in pixels; every size on the screen is a share of it.", at_least(360, "pixels"))
    fullscreen: bool = option(True, "Fill the whole display; `false` opens a window (the demo).")
    png_dir: str = option("", "Directory for PNG pictures of the screen: `current.png` after every update and "
                          "one file per change of what is shown. Empty: none.")
    audio: str = option("auto", "Spoken calls: `auto` (the sound card through `aplay` when there is one, else "
                        "WAV files only), `device`, `file` (WAV files in `wav_dir`), `off`.",
                        one_of("auto", "device", "file", "off"))
    wav_dir: str = option("", "Directory for a WAV file of each spoken call (`last-call.wav` and the newest 50). "
                          "Empty: `<state_dir>/calls` when calls go to files only.")
    voice_dir: str = option("", "Cache of the word clips made with espeak-ng (voice `uk`) on first use. "
                            "Empty: `<state_dir>/voice`.")


def load_settings(table: dict[str, Any], path: str) -> CallingSettings:
    """Validate the role's table; a wrong key or value raises ConfigError naming it."""
    return build_section(CallingSettings, table, path, f"roles.{ROLE}")
