"""The `queue` role's composition root: settings, catalogue, service, clock, links and HTTP face.

``edge.roles.ROLE_FACTORIES["queue"]`` names :func:`create`; nothing else
wires the role. The service (``kiosk.queue.service``) decides and stores and
knows nothing of sockets; the calendar (``kiosk.queue.calendar``) drives it by
the clock, the links (``kiosk.queue.links``) serve the kiosks and calling
screens, and the API (``kiosk.queue.api``) wraps them all and is what the
node runs. The demo's scripted day (``scenario = "demo"``) is chosen here.
"""

from __future__ import annotations

from edge.config import ConfigError, build_section
from edge.node import RoleContext
from kiosk.queue.api import QueueRole
from kiosk.queue.calendar import QueueCalendar
from kiosk.queue.links import QueueLinks
from kiosk.queue.scenario import DemoDay
from kiosk.queue.service import QueueService
from kiosk.queue.settings import QueueSettings, load_catalogue


async def create(ctx: RoleContext) -> QueueRole:
    """The `queue` role of a node, from its ``[roles.queue]`` table; a wrong table or catalogue is refused."""
    settings = build_section(QueueSettings, ctx.role_config, ctx.config.path, "roles.queue")
    try:
        config = load_catalogue(settings.catalogue_file, settings)
    except ConfigError as exc:
        raise ConfigError(ctx.config.path, "roles.queue.catalogue_file", str(exc)) from None
    service = QueueService(ctx, settings, config)
    return QueueRole(service, QueueLinks(service), QueueCalendar(service),
                     scenario=DemoDay if settings.scenario == "demo" else None)
