"""The `hall-display` role's composition root: settings, the way to the hall, the screen client.

``edge.roles.ROLE_FACTORIES["hall-display"]`` names :func:`create`; nothing
else wires the role.
"""

from __future__ import annotations

from edge.discovery import peer_url
from edge.node import RoleContext
from edge.peers import roster_lookup
from edge.screenclient import collect_metrics
from voting.display.service import HallDisplay
from voting.display.settings import ROLE, load_settings


async def create(ctx: RoleContext) -> HallDisplay:
    """The hall's big screen, from ``[roles.hall-display]``; without mDNS it needs ``hall_url``."""
    settings = load_settings(ctx.role_config, ctx.config.path)
    url_of = peer_url(ctx, f"roles.{ROLE}.hall_url", settings.hall_url, "hall")
    hub = ctx.hub
    role = HallDisplay(ctx.identity, settings, url_of, roster_lookup(lambda: hub.roster, {"hall"}),
                       clock=ctx.clock)
    collect_metrics(ctx, role)
    return role
