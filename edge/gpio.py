"""The process's gpiozero pin factory, chosen by configuration (``[gpio] pin_factory``).

One factory per name per process, passed to each device as ``pin_factory=``;
the global ``Device.pin_factory`` is left alone so tests can use their own.
``mock`` is gpiozero's own mock factory (demo, tests); ``lgpio`` or ``native``
drive a board's pins.
"""

from __future__ import annotations

from gpiozero.pins import Factory

_FACTORIES: dict[str, Factory] = {}


def pin_factory(name: str) -> Factory:
    """The factory for a configured name, made once."""
    if name not in _FACTORIES:
        if name == "mock":
            from gpiozero.pins.mock import MockFactory as cls
        elif name == "lgpio":
            from gpiozero.pins.lgpio import LGPIOFactory as cls
        elif name == "native":
            from gpiozero.pins.native import NativeFactory as cls
        elif name == "rpigpio":
            from gpiozero.pins.rpigpio import RPiGPIOFactory as cls
        elif name == "pigpio":
            from gpiozero.pins.pigpio import PiGPIOFactory as cls
        else:
            raise ValueError(f"unknown pin factory {name!r}")
        _FACTORIES[name] = cls()
    return _FACTORIES[name]
