"""Which devices `[roles.power]` asks for, opened on the process's gpiozero pin factory.

Opened when the role is created, so a wrong pin or a missing GPIO library
stops the node at start with the file, the key and the reason, as for the
consoles. On mock pins (``gpio.pin_factory = "mock"``) a fuel sender is
simulated on the SPI pins, as a real one is soldered on before the board boots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gpiozero.pins import Factory

from edge.config import ConfigError
from edge.gpio import pin_factory
from power.deepsea import DseController
from power.hardware import (FuelGauge, Generator, GeneratorOutput, GeneratorRelays, GeneratorRunning, LoadContactor,
                            MainsSensor, WiredGenerator)
from power.policy import Contact
from power.settings import PREFIX, GeneratorSection, PowerConfig

if TYPE_CHECKING:
    from power.sim_generator import SimulatedFuelSender


@dataclass
class Devices:
    """What was opened: the mains input, the generator, and on mock pins the simulated fuel sender."""

    factory: Factory | None
    mains: MainsSensor | None
    generator: Generator | None
    wired: WiredGenerator | None = None  # the generator, when it is wired to this board
    fuel_sender: SimulatedFuelSender | None = None  # on mock pins, with a fuel channel


def open_devices(config: PowerConfig, factory_name: str, path: str) -> Devices:
    """Claim the pins (and set up the Modbus client) the configuration names."""
    needs_pins = config.mains is not None or (config.generator is not None and config.generator.control != "deepsea")
    factory = None
    if needs_pins:
        try:
            factory = pin_factory(factory_name)
        except Exception as exc:  # lgpio missing, not a Raspberry Pi, no /dev/gpiochip*
            raise ConfigError(path, "gpio.pin_factory", f"cannot use it here: {exc}") from None
    mains = None
    generator: Generator | None = None
    wired: WiredGenerator | None = None
    sender: SimulatedFuelSender | None = None
    opened: list[Any] = []
    try:
        m = config.mains
        if m is not None:
            mains = MainsSensor(m.pin, factory, active_high=m.active_high, pull_up=m.pull_up, hold_s=m.hold_s)
            opened.append(mains)
        g = config.generator
        if g is not None and g.control == "deepsea":
            generator = DseController(g.modbus_host, g.modbus_port, g.modbus_unit, timeout_s=g.modbus_timeout_s,
                                      poll_s=g.modbus_poll_s, comms=config.comms)
        elif g is not None:
            assert factory is not None
            wired, sender = _wired(g, factory, factory_name == "mock", opened)
            generator = wired
    except ConfigError:
        raise
    except Exception as exc:  # gpiozero: pin in use, no such pin
        for device in opened:
            device.close()
        raise ConfigError(path, f"{PREFIX}.generator" if mains is not None else f"{PREFIX}.mains",
                          f"{type(exc).__name__}: {exc}") from None
    return Devices(factory, mains, generator, wired, sender)


def _wired(g: GeneratorSection, factory: Factory, mock: bool,
           opened: list[Any]) -> tuple[WiredGenerator, SimulatedFuelSender | None]:
    """The generator on this board's pins (each device in ``opened`` as it is claimed), and a simulated sender."""
    pins = {Contact.RUN: g.run_pin} if g.control == "two-wire" else {Contact.START: g.start_pin,
                                                                      Contact.STOP: g.stop_pin}
    relays = GeneratorRelays(pins, factory, g.relay_active_high)
    opened.append(relays)
    running = GeneratorRunning(g.running_pin, factory, active_high=g.running_active_high,
                               pull_up=g.running_pull_up, hold_s=g.running_hold_s)
    opened.append(running)
    output = None
    if g.output_pin != -1:
        output = GeneratorOutput(g.output_pin, factory, active_high=g.running_active_high,
                                 pull_up=g.running_pull_up, hold_s=g.running_hold_s)
        opened.append(output)
    load = None
    if g.load_pin != -1:
        load = LoadContactor(g.load_pin, factory, g.relay_active_high)
        opened.append(load)
    fuel = None
    sender = None
    if g.fuel_channel != -1:
        if mock:
            # The simulated sender must own the SPI pins before the ADC claims them,
            # as a real one is soldered on before the board boots.
            from power.sim_generator import SimulatedFuelSender
            sender = SimulatedFuelSender(factory, g.fuel_channel, empty=g.fuel_empty, full=g.fuel_full)
            opened.append(sender)
        fuel = FuelGauge(g.fuel_channel, factory, g.fuel_empty, g.fuel_full)
        opened.append(fuel)
    return WiredGenerator(relays, running, output, load, fuel), sender
