"""Every UPS and generator backend has what the power service asks of it.

The service is written against :class:`power.hardware.Ups` and
:class:`power.hardware.Generator` and never asks a device what it is; so each
backend must carry every member of its interface, with the same call shape
(a coroutine where the interface has one, the same parameters).
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import pytest
from gpiozero.pins.mock import MockFactory

from power.deepsea import DseController
from power.hardware import Generator, GeneratorRelays, GeneratorRunning, Ups, WiredGenerator
from power.policy import Contact
from power.settings import parse_power_config
from power.ups import NutSource, Q1Source, make_source


def members(proto: type) -> dict[str, Any]:
    """The public members an interface declares: attributes (None), methods and properties."""
    out: dict[str, Any] = {}
    for klass in reversed(proto.__mro__):
        if klass in (object, Protocol) or not getattr(klass, "_is_protocol", False):
            continue
        out.update({name: None for name in getattr(klass, "__annotations__", {}) if not name.startswith("_")})
        out.update({name: value for name, value in vars(klass).items() if not name.startswith("_")})
    return out


def missing_or_unlike(backend: Any, proto: type) -> list[str]:
    wrong = []
    for name, declared in members(proto).items():
        if not hasattr(backend, name):
            wrong.append(f"{name}: missing")
        elif inspect.isfunction(declared):
            given = getattr(backend, name)
            if inspect.iscoroutinefunction(declared) != inspect.iscoroutinefunction(given):
                wrong.append(f"{name}: coroutine or not, unlike the interface")
            elif list(inspect.signature(declared).parameters)[1:] != list(inspect.signature(given).parameters):
                wrong.append(f"{name}: other parameters than the interface")
    return wrong


def test_the_interfaces_declare_what_the_service_uses() -> None:
    # The check below is only as good as the member list: prove it reads all three kinds.
    assert {"name", "health", "state", "instcmd", "on_events"} <= set(members(Ups))
    assert {"running", "comms_state", "timeouts", "start", "readings", "on_events"} <= set(members(Generator))


@pytest.mark.parametrize("ups", [
    {"driver": "q1", "url": "/dev/ttyUSB0"},
    {"driver": "nut", "ups": "rack"},
])
def test_every_ups_backend_is_a_ups(ups: dict[str, str]) -> None:
    source = make_source(parse_power_config({"ups": ups}, "node.toml"))
    assert isinstance(source, Q1Source if ups["driver"] == "q1" else NutSource)
    assert missing_or_unlike(source, Ups) == []


async def test_every_generator_backend_is_a_generator() -> None:
    f = MockFactory()
    wired = WiredGenerator(GeneratorRelays({Contact.RUN: 22}, f), GeneratorRunning(23, f, hold_s=0.05))
    controller = DseController("127.0.0.1", 1)
    try:
        assert missing_or_unlike(wired, Generator) == []
        assert missing_or_unlike(controller, Generator) == []
        # Wires have no link to lose and no requests to time out; a controller on a bus has both.
        assert (wired.comms_state, wired.timeouts) == (None, None)
        assert controller.comms_state is not None and controller.timeouts == 0
    finally:
        await wired.close()
        await controller.close()
