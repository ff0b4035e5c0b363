"""The `power` role's composition root: settings, devices, the UPS, service, network face and simulator.

``edge.roles.ROLE_FACTORIES["power"]`` names :func:`create`; nothing else
wires the role. The service (``power.service``) runs the policy over a
:class:`power.hardware.Ups` and a :class:`power.hardware.Generator`; the API
(``power.api``) wraps it and is what the node runs. Real or simulated
hardware is chosen here by configuration only: the gpiozero pin factory
(``gpio.pin_factory = "mock"``: the simulated grid, set and fuel sender of
:mod:`power.sim`, with its ``/sim`` routes) and the UPS's ``url``
(``sim``: :func:`power.sim.simulated_ups`).
"""

from __future__ import annotations

from edge.node import RoleContext
from power.api import PowerRole
from power.devices import open_devices
from power.service import PowerService
from power.settings import SIM, parse_power_config
from power.sim import PowerSim, add_sim_routes, simulated_ups
from power.ups import make_source


async def create(ctx: RoleContext) -> PowerRole:
    """The `power` role of a node; claims its pins now, so a wrong pin stops the node at start."""
    factory_name = ctx.config.gpio.pin_factory
    config = parse_power_config(ctx.role_config, ctx.config.path, factory_name)
    devices = open_devices(config, factory_name, ctx.config.path)
    ups = config.ups
    # parse_power_config allows a simulated UPS with mock pins only.
    sim_ups = simulated_ups() if ups is not None and ups.driver == "q1" and ups.url == SIM else None
    service = PowerService(ctx, config, ups=make_source(config, sim_ups), mains=devices.mains,
                           generator=devices.generator)
    role = PowerRole(service)
    if factory_name == "mock":
        role.sim = PowerSim(service, wired=devices.wired, ups=sim_ups, fuel_sender=devices.fuel_sender)
        add_sim_routes(ctx.app, role.sim)
    return role
