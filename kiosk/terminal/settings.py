"""The kiosk's configuration: the ``[roles.kiosk]`` table.

:func:`load_settings` validates it into :class:`KioskSettings` and refuses a
wrong one with the file, the key and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.config import at_least, build_section, http_url, one_of, option, positive
from kiosk.terminal.escpos import PROFILES

ROLE = "kiosk"
SIM_PRINTER = "sim"  # the `printer` value that starts the simulated printer in this process


@dataclass(frozen=True, slots=True, kw_only=True)
class KioskSettings:
    """`[roles.kiosk]`: the self-service touch kiosk with its ticket printer."""

    queue_url: str = option("", "Base URL of the queue node. Empty: find it by mDNS (a node with role `queue` "
                            "in this site's roster).", http_url)
    printer: str = option(SIM_PRINTER, "The ticket printer: a pyserial URL or device path (`/dev/ttyUSB0`), or `sim` "
                          "to start the simulated printer in this process (demo, tests).")
    printer_profile: str = option("epson-80-cp1251", "Printer profile (code page and its ESC t number): "
                                  + ", ".join(PROFILES) + ".", one_of(*PROFILES))
    printer_baudrate: int = option(19200, "Serial speed of the printer.", positive)
    write_timeout_s: float = option(3.0, "Longest a write to the printer may block; a stalled printer costs "
                                    "this much, never a frozen screen.", positive)
    width: int = option(1920, "Panel width in pixels.", at_least(320, "pixels"))
    height: int = option(1080, "Panel height in pixels.", at_least(240, "pixels"))
    panel_width_mm: float = option(344.0, "Visible panel width in millimetres (15.6″ 16:9: 344). With the "
                                   "pixels it gives the px per mm that makes every button ≥ 20 mm.", positive)
    panel_height_mm: float = option(194.0, "Visible panel height in millimetres (15.6″ 16:9: 194).", positive)
    fullscreen: bool = option(True, "Fill the whole display; `false` opens a window (the demo).")
    idle_s: float = option(60.0, "Seconds without a touch before the «are you still here?» warning.", positive)
    idle_warning_s: float = option(20.0, "Seconds the warning gives to ask for more time before returning to "
                                   "the start screen (at least 20).", at_least(20, "seconds"))
    queue_alert_s: float = option(20.0, "Seconds without the queue before technicians get an alert.", positive)
    mode: str = option("tickets", "`tickets`: the full kiosk; `rating`: a rating terminal beside one window "
                       "(the start screen is the five faces).", one_of("tickets", "rating"))
    window: int = option(0, "For `mode = \"rating\"`: the window number sent with each rating (0: none).")
    png_dir: str = option("", "Directory for a PNG of each screen as last shown (`<screen>.png`, `current.png`). "
                          "Empty: none.")
    audio: str = option("auto", "Speech mode output: `auto` (the sound card through `aplay` when there is one, "
                        "else WAV files only), `device`, `file`, `off`.", one_of("auto", "device", "file", "off"))
    wav_dir: str = option("", "Directory for `last-speech.wav`. Empty: `<state_dir>/speech` when speech goes to "
                          "files only.")
    voice_dir: str = option("", "Cache of phrase clips made with espeak-ng (voice `uk`). Empty: "
                            "`<state_dir>/voice`.")
    scenario: str = option("", "`demo`: a simulated visitor takes a ticket every `scenario_every_s` seconds.",
                           one_of("", "demo"))
    scenario_every_s: float = option(15.0, "Seconds between the demo visitor's tickets.", positive)


def load_settings(table: dict[str, Any], path: str) -> KioskSettings:
    return build_section(KioskSettings, table, path, f"roles.{ROLE}")
