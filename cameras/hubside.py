"""The camera role at the hub: the dashboard's cameras page, viewer tokens, accepting a new view.

The page (section ``cameras``, drawn by ``hubside.js``) is for everyone with
the ``cameras`` permission, the police liaison included: per relay its
cameras' verdicts from the last heartbeat, the camera alerts and the latest
``camera.*`` messages. Pictures never pass through the hub: the page shows
snapshots and the live view straight from the relay, with a short-lived viewer
token sealed by the hub's key (``cameras.tokens`` checks it on the relay,
offline). Accepting a camera's new view (re-aimed or refocused on purpose) is
a signed ``camera.rebaseline`` command to its relay.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any

from aiohttp import web

from edge.hub import alerts, auth
from edge.hub.extensions import DashRoute, HubExtension, Section, nodes_with_role, recent_events
from edge.identity import seal
from edge.timeutil import iso_utc
from edge.web import error, json_response

log = logging.getLogger("hromada.hub.cameras")

TOKEN_TTL_S = 600.0


def cameras_page(conn: sqlite3.Connection) -> dict[str, Any]:
    """Per relay: where to reach it and its cameras' health; the camera alerts and messages."""
    return {"relays": [{"node_id": n["node_id"], "name": n["name"], "site": n["site"], "online": n["online"],
                        "url": f"http://{n['address']}:{n['port']}" if n["address"] else None,
                        "health": n["role_health"]}
                       for n in nodes_with_role(conn, "camera")],
            "alerts": [a for a in alerts.list_alerts(conn, state="all", limit=200) if a["kind"].startswith("camera")],
            "events": recent_events(conn, None, "camera.", 100)}


class CameraPages:
    """The dashboard routes of the camera role, on one hub."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    async def cameras(self, request: web.Request, sess: auth.Session) -> web.Response:
        return json_response(await self.hub.store.run(lambda db: cameras_page(db)))

    async def camera_token(self, request: web.Request, sess: auth.Session) -> web.Response:
        """A short-lived viewer token sealed by the hub's key; camera relays check it offline."""
        exp = time.time() + TOKEN_TTL_S
        token = seal(self.hub.identity, {"sub": sess.username, "role": sess.role.value, "exp": exp,
                                         "scope": "cameras"})
        return json_response({"token": token, "expires": iso_utc(exp)})

    async def rebaseline(self, request: web.Request, sess: auth.Session) -> web.Response:
        """A technician accepts a camera's new view (re-aimed or refocused on purpose): a signed command."""
        node_id, camera = request.match_info["node_id"], request.match_info["camera"]
        try:
            reply = await self.hub.send_command(node_id, "camera.rebaseline", {"camera": camera,
                                                                                "by": sess.username})
        except LookupError:
            raise error(409, "node_offline", "Ретранслятор не на зв'язку; спробуйте, коли він повернеться / "
                                             "the relay is not connected; try again when it is back") from None
        except (asyncio.TimeoutError, ConnectionError):
            raise error(504, "no_reply", "Ретранслятор не відповів / the relay did not answer") from None
        if not reply.get("ok"):
            raise error(409, "refused", str(reply.get("error") or "refused"))
        log.info("%s accepted the new view of camera %s on %s", sess.username, camera, node_id)
        return json_response({"ok": True, **(reply.get("result") or {})})


def extend(hub: Any) -> None:
    """Add the camera role to a hub: its page, the viewer token and the new-view command."""
    pages = CameraPages(hub)
    hub.install(HubExtension(
        name="camera",
        senders={"camera.": ("camera",)},
        sections=[Section("cameras", "Камери", "Cameras", "cameras", ("cameras", "hubside.js"), order=20,
                          kinds=("camera",))],
        dashboard_routes=[
            DashRoute("GET", "/api/v1/dash/cameras", "cameras", pages.cameras),
            DashRoute("GET", "/api/v1/dash/camera-token", "cameras", pages.camera_token),
            DashRoute("POST", "/api/v1/dash/cameras/{node_id}/{camera}/rebaseline", "act", pages.rebaseline),
        ],
    ))
