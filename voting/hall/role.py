"""The `hall` role's composition root: settings, council file, service and network face.

``edge.roles.ROLE_FACTORIES["hall"]`` names :func:`create`; nothing else
wires the role. The service (``voting.hall.service``) knows nothing of
sockets; the API (``voting.hall.api``) wraps it and is what the node runs.
"""

from __future__ import annotations

from edge.config import ConfigError, build_section
from edge.node import RoleContext
from voting.hall.api import HallRole
from voting.hall.council_file import load_council_file
from voting.hall.scenario import run_hall_demo
from voting.hall.service import HallService
from voting.hall.settings import HallSettings


async def create(ctx: RoleContext) -> HallRole:
    """The `hall` role of a node, from its ``[roles.hall]`` table; a wrong table or council file is refused."""
    settings = build_section(HallSettings, ctx.role_config, ctx.config.path, "roles.hall")
    try:
        council = load_council_file(settings.council_file)
    except ConfigError as exc:
        raise ConfigError(ctx.config.path, "roles.hall.council_file", str(exc)) from None
    service = HallService(ctx=ctx, settings=settings, council=council)
    return HallRole(service, scenario=run_hall_demo if settings.scenario == "demo" else None)
