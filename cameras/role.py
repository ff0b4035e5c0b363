"""The `camera` role's composition root: settings, the demo's simulated cameras, the relay and its routes.

``edge.roles.ROLE_FACTORIES["camera"]`` names :func:`create`; nothing else
wires the role. The relay (``cameras.service``) runs the workers and judges
the pictures; the API (``cameras.api``) serves them to viewers with a token.
Simulated cameras are chosen by configuration only: ``scenario = "demo"``
starts a simulator for each camera whose ``url`` is ``sim:mjpeg`` or
``sim:rtsp`` (:class:`cameras.scenario.DemoScenario`).
"""

from __future__ import annotations

from cameras.api import CameraApi
from cameras.service import CameraRelay
from cameras.scenario import DemoScenario
from cameras.settings import parse_camera_config
from edge.node import RoleContext


async def create(ctx: RoleContext) -> CameraRelay:
    """The `camera` role of a node, from its ``[roles.camera]`` table and secrets file; a wrong one is refused."""
    config = parse_camera_config(ctx.role_config, ctx.config.path)
    scenario = DemoScenario(ctx.config.state_dir / "camera-sims") if config.settings.scenario == "demo" else None
    relay = CameraRelay(ctx, config, scenario)
    CameraApi(ctx, relay.settings, relay.monitors, relay.supervisors).add_routes(ctx.app)
    return relay
