"""The camera relay's HTTP routes; every one needs a viewer token from the hub.

    GET /cameras                       the cameras and their state (JSON)
    GET /cameras/{id}/snapshot.jpg     the latest picture, or the OFFLINE image
    GET /cameras/{id}/preview.mjpeg    a low-rate MJPEG preview (for an <img> tag)
    GET /cameras/{id}/stream           the camera's own stream, relayed untouched:
                                       MPEG-TS (video/mp2t) for H.264/H.265 cameras,
                                       MJPEG (multipart) for MJPEG cameras

The token comes as ``Authorization: Bearer …`` or ``?token=…`` (tags
cannot send headers); see `cameras.tokens`. Opening a stream or a preview
is logged and reported to the hub with the viewer's name: who watched which
camera when is a question the community must be able to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Mapping

from aiohttp import web

from cameras.fanout import Viewer
from cameras.monitor import CameraMonitor
from cameras.settings import CameraSettings
from cameras.supervisor import CameraSupervisor
from cameras.tokens import TokenRefused, Viewer as TokenViewer, check_viewer_token
from edge.node import RoleContext
from edge.outbox import Priority
from edge.web import error, json_response, refusal_http

log = logging.getLogger("hromada.camera")

BOUNDARY = "frame"
MULTIPART = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate", "Pragma": "no-cache"}


def multipart_part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
    return head + jpeg + b"\r\n"


class CameraApi:
    """Routes of the relay, over its cameras' monitors and worker supervisors.

    ``monitors`` and ``supervisors`` are the relay's own mappings (filled when
    it starts), read at each request.
    """

    def __init__(self, ctx: RoleContext, settings: CameraSettings, monitors: Mapping[str, CameraMonitor],
                 supervisors: Mapping[str, CameraSupervisor]) -> None:
        self.ctx, self.settings = ctx, settings
        self.monitors, self.supervisors = monitors, supervisors
        self._linger: dict[str, asyncio.TimerHandle] = {}

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/cameras", self.list_cameras)
        r.add_get("/cameras/{camera}/snapshot.jpg", self.snapshot)
        r.add_get("/cameras/{camera}/preview.mjpeg", self.preview)
        r.add_get("/cameras/{camera}/stream", self.stream)

    # -- access ------------------------------------------------------------------------------

    def viewer(self, request: web.Request) -> TokenViewer:
        """The token's viewer, or an HTTP error saying why not (Ukrainian, then English)."""
        token = request.query.get("token")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        hub = self.ctx.hub
        try:
            return check_viewer_token(hub.hub_key, token, time.time(), site=hub.site)
        except TokenRefused as refused:
            log.info("camera request refused (%s) from %s for %s", refused.code, request.remote, request.path)
            headers = {"WWW-Authenticate": 'Bearer realm="cameras"'} if refused.status == 401 else None
            raise refusal_http(refused, headers) from None

    def camera(self, request: web.Request) -> CameraMonitor:
        monitor = self.monitors.get(request.match_info["camera"])
        if monitor is None:
            raise error(404, "unknown_camera", "Немає такої камери / No such camera")
        return monitor

    async def _audit(self, viewer: TokenViewer, monitor: CameraMonitor, feed: str, request: web.Request) -> None:
        log.info("viewer %s (%s) opened %s of camera %s from %s", viewer.sub, viewer.role, feed, monitor.id,
                 request.remote)
        with contextlib.suppress(Exception):
            await self.ctx.outbox.put("camera.viewed", {
                "camera": monitor.id, "sub": viewer.sub, "role": viewer.role, "feed": feed,
                "remote": request.remote or ""}, Priority.EVENT)

    # -- routes ------------------------------------------------------------------------------

    async def list_cameras(self, request: web.Request) -> web.Response:
        self.viewer(request)
        now = time.monotonic()
        cameras = []
        for monitor in self.monitors.values():
            info = monitor.describe(now)
            base = f"/cameras/{monitor.id}"
            info["links"] = {"snapshot": f"{base}/snapshot.jpg", "preview": f"{base}/preview.mjpeg",
                             "stream": f"{base}/stream"}
            cameras.append(info)
        return json_response({"cameras": cameras}, headers=NO_STORE)

    async def snapshot(self, request: web.Request) -> web.Response:
        self.viewer(request)
        monitor = self.camera(request)
        now = time.monotonic()
        jpeg, live = monitor.snapshot(now)
        if not live:
            # Rendering takes tens of milliseconds: not on the loop.
            jpeg = await asyncio.get_running_loop().run_in_executor(None, monitor.offline_picture)
        headers = {**NO_STORE, "X-Camera-Live": "1" if live else "0", "X-Camera-Verdict": str(monitor.health.verdict)}
        if live and monitor.latest_jpeg_at is not None:
            headers["X-Picture-Age"] = f"{max(0.0, now - monitor.latest_jpeg_at):.1f}"
        return web.Response(body=jpeg, content_type="image/jpeg", headers=headers)

    async def preview(self, request: web.Request) -> web.StreamResponse:
        viewer = self.viewer(request)
        monitor = self.camera(request)
        self._room(monitor)
        slot = monitor.preview.add(Viewer(viewer.sub, max_bytes=0, latest_only=True))
        self._update_flags(monitor)
        response = web.StreamResponse(headers={**NO_STORE, "Content-Type": MULTIPART})
        try:
            await self._audit(viewer, monitor, "preview", request)
            await response.prepare(request)
            first, _ = monitor.snapshot(time.monotonic())
            await response.write(multipart_part(first))
            interval = 1.0 / self.settings.preview_fps
            while True:
                started = time.monotonic()
                await response.write(multipart_part(await slot.get()))
                # Low rate for everyone: a picture at most every 1/preview_fps seconds.
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        except ConnectionError:  # the viewer left, or the relay is stopping
            pass
        finally:
            monitor.preview.remove(slot)
            self._update_flags(monitor)
        return response

    async def stream(self, request: web.Request) -> web.StreamResponse:
        viewer = self.viewer(request)
        monitor = self.camera(request)
        self._room(monitor)
        fmt = monitor.info.get("relay_format")
        if not monitor.connected or fmt is None:
            raise error(503, "camera_offline", "Камера не на зв’язку / Camera offline",
                        {"Retry-After": "5"})
        mjpeg = fmt == "mjpeg"
        queue = monitor.stream.add(Viewer(viewer.sub, max_bytes=self.settings.viewer_buffer_kb * 1024,
                                          latest_only=mjpeg))
        self._update_flags(monitor)
        response = web.StreamResponse(headers={**NO_STORE, "Content-Type": MULTIPART if mjpeg else "video/mp2t"})
        try:
            await self._audit(viewer, monitor, "stream", request)
            await response.prepare(request)
            while True:
                data = await queue.get()
                await response.write(multipart_part(data) if mjpeg else data)
        except ConnectionError:  # the viewer left, or the camera's connection ended
            pass
        finally:
            monitor.stream.remove(queue)
            self._update_flags(monitor)
        return response

    # -- pulling only while someone watches ---------------------------------------------------------

    def _room(self, monitor: CameraMonitor) -> None:
        if len(monitor.stream) + len(monitor.preview) >= self.settings.max_viewers:
            raise error(503, "too_many_viewers", "Забагато глядачів цієї камери / Too many viewers of this camera",
                        {"Retry-After": "30"})

    def _update_flags(self, monitor: CameraMonitor) -> None:
        """Relay while someone watches; stop `relay_linger_s` after the last viewer left."""
        supervisor = self.supervisors.get(monitor.id)
        if supervisor is None:
            return
        pending = self._linger.pop(monitor.id, None)
        if pending is not None:
            pending.cancel()
        supervisor.set_flags(preview=len(monitor.preview) > 0)
        if len(monitor.stream):
            if not supervisor.relay:
                supervisor.set_flags(relay=True)
            return
        if supervisor.relay:
            loop = asyncio.get_running_loop()
            self._linger[monitor.id] = loop.call_later(
                self.settings.relay_linger_s,
                lambda: supervisor.set_flags(relay=False) if not len(monitor.stream) else None)


def describe_links(base_url: str, camera_id: str, token: str) -> dict[str, Any]:
    """The URLs of one camera with a token in them (for the demo and for people)."""
    base = f"{base_url}/cameras/{camera_id}"
    return {"snapshot": f"{base}/snapshot.jpg?token={token}", "preview": f"{base}/preview.mjpeg?token={token}",
            "stream": f"{base}/stream?token={token}"}
