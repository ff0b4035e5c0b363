"""What hardware a board has: serial ports, video devices, GPIO chips.

Used by ``hromada provision`` to offer choices and by ``hromada doctor`` to
check that what the configuration names is there.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hardware:
    serial_ports: tuple[str, ...]
    video_devices: tuple[str, ...]
    gpio_chips: tuple[str, ...]
    spi_devices: tuple[str, ...]
    sound_cards: tuple[str, ...]
    drm_cards: tuple[str, ...]


def _glob(*patterns: str) -> tuple[str, ...]:
    found: list[str] = []
    for pattern in patterns:
        found += sorted(glob.glob(pattern))
    return tuple(dict.fromkeys(found))


def detect(dev: str = "/dev") -> Hardware:
    """What is under ``dev`` now (stable by-id names first for serial ports)."""
    return Hardware(
        serial_ports=_glob(f"{dev}/serial/by-id/*", f"{dev}/ttyUSB*", f"{dev}/ttyACM*", f"{dev}/ttyAMA*"),
        video_devices=_glob(f"{dev}/video*"),
        gpio_chips=_glob(f"{dev}/gpiochip*"),
        spi_devices=_glob(f"{dev}/spidev*"),
        sound_cards=_glob(f"{dev}/snd/pcmC*p"),
        drm_cards=_glob(f"{dev}/dri/card*"),
    )


def accessible(path: str) -> bool:
    """The device exists and this process may read and write it."""
    return os.path.exists(path) and os.access(path, os.R_OK | os.W_OK)
