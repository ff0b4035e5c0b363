"""The `console` role's composition root: settings, seat devices, card readers, service, sim routes.

``edge.roles.ROLE_FACTORIES["console"]`` names :func:`create`; nothing else
wires the role. Real or simulated hardware is chosen here by configuration
only: the gpiozero pin factory (``gpio.pin_factory``) and each card reader's
``url`` (``sim``: :class:`voting.console.sim.SimulatedCardReader`).
"""

from __future__ import annotations

from functools import partial

from edge.config import ConfigError
from edge.gpio import pin_factory
from edge.node import RoleContext
from voting.console.hardware import Rdm6300Reader, SeatDevices, SeatPins
from voting.console.service import ConsoleRole
from voting.console.settings import SIM_READER, SeatSection, parse_console_config
from voting.console.sim import Scenario, SimulatedCardReader, add_sim_routes


def seat_pins(seat: SeatSection) -> SeatPins:
    """The pins of a configured seat (``presence = -1``: no sensor fitted)."""
    return SeatPins(seat.seat, seat.za, seat.proty, seat.utrymavsia, None if seat.presence == -1 else seat.presence,
                    seat.led_za, seat.led_proty, seat.led_utrymavsia, seat.led_status)


async def create(ctx: RoleContext) -> ConsoleRole:
    """The `console` role of a node; claims its pins and ports now, so a wrong pin stops the node at start."""
    config = parse_console_config(ctx.role_config, ctx.config.path, ctx.config.gpio.pin_factory,
                                  ctx.config.discovery.enabled)
    role = ConsoleRole(ctx, config)
    try:
        factory = pin_factory(ctx.config.gpio.pin_factory)
    except Exception as exc:  # lgpio missing, not a Raspberry Pi, no /dev/gpiochip*
        raise ConfigError(ctx.config.path, "gpio.pin_factory", f"cannot use it here: {exc}") from None
    s = config.settings
    for i, seat in enumerate(config.seats):
        try:
            role.seats[seat.seat] = SeatDevices(seat_pins(seat), factory, role.on_press, role.on_fault,
                                                bounce_s=s.bounce_s, flap_edges=s.flap_edges,
                                                flap_window_s=s.flap_window_s)
        except Exception as exc:  # gpiozero: pin in use, fixed pull, no such pin
            role.close_devices()
            raise ConfigError(ctx.config.path, f"roles.console.seats[{i}]", f"{type(exc).__name__}: {exc}") from None
    for seat_id, url in config.readers:
        on_card = partial(role.on_card, seat_id)
        if url == SIM_READER:
            sim = SimulatedCardReader(on_card)
            role.sim_readers[seat_id] = sim
            role.readers[seat_id] = sim
        else:
            role.readers[seat_id] = Rdm6300Reader(url, on_card)
    if s.scenario == "demo":
        role.scenario = Scenario(role)
    if ctx.config.gpio.pin_factory == "mock":
        add_sim_routes(ctx.app, role)
    return role
