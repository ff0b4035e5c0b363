"""A simulated MJPEG IP camera, served by aiohttp, whose picture can be spoiled at run time.

    python -m cameras.sim_mjpeg --port 8081 --control-port 8082 [--fps 10] [--mode normal]

The video port serves ``/video`` (multipart/x-mixed-replace, as cheap IP
cameras do) and ``/snapshot.jpg``. The control port switches the mode:
``POST /mode/<mode>`` (or GET, for a browser) with mode one of

    normal   a live street scene (fresh sensor noise in every frame)
    black    a covered lens: dark and flat
    frozen   the very same JPEG again and again
    blurred  the street out of focus
    moved    the street seen from a camera turned sideways
    stalled  connections stay open but no frame comes (a hung encoder)
    dead     every connection closed and the video port refusing new ones

Frames are rendered and JPEG-encoded once at start (`cameras.scenes`), so
the simulator costs almost nothing while it runs. Prints ``ready`` on
stdout when both ports listen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import cv2
import numpy as np
from aiohttp import web

from cameras import scenes
from edge.web import error

MODES = ("normal", "black", "frozen", "blurred", "moved", "stalled", "dead")
#: Distinct frames per picture; prime, so a relay sampling every N-th frame never sees a loop.
FRAMES = 23


def render(picture: np.ndarray, count: int, noise: float = 3.0) -> list[bytes]:
    """`count` JPEGs of a live camera looking at `picture`."""
    out = []
    for seed in range(count):
        frame = scenes.live(picture, seed, noise=noise, jpeg_quality=None)
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        out.append(jpeg.tobytes())
    return out


class MjpegCamera:
    """The simulated camera: its pictures, its mode, its two HTTP servers."""

    def __init__(self, width: int = 640, height: int = 360, fps: float = 10.0, mode: str = "normal") -> None:
        self.fps = fps
        self.mode = mode
        street = scenes.street(1, width, height)
        self.pictures = {
            "normal": render(street, FRAMES),
            "black": render(scenes.flat(street.shape, 6), FRAMES, noise=2.0),
            "blurred": render(scenes.blurred(street, 6), FRAMES),
            "moved": render(scenes.shifted(street, 0.08), FRAMES),
        }
        self.pictures["frozen"] = self.pictures["normal"][:1]
        self._changed = asyncio.Event()
        self._video: web.AppRunner | None = None
        self._video_site: web.TCPSite | None = None
        self._control: web.AppRunner | None = None
        self._streams: set[web.StreamResponse] = set()
        self.host = "127.0.0.1"
        self.port = 0

    def frames(self) -> list[bytes]:
        return self.pictures.get(self.mode, self.pictures["normal"])

    async def video(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        self._streams.add(response)
        i = 0
        try:
            while self.mode != "dead":
                if self.mode == "stalled":
                    await self._wait_change(1.0)
                    continue
                frames = self.frames()
                jpeg = frames[i % len(frames)]
                i += 1
                await response.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                     % len(jpeg) + jpeg + b"\r\n")
                await asyncio.sleep(1 / self.fps)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self._streams.discard(response)
        return response

    async def snapshot(self, request: web.Request) -> web.Response:
        if self.mode in ("stalled", "dead"):
            await asyncio.sleep(3600)
        return web.Response(body=self.frames()[0], content_type="image/jpeg")

    async def _wait_change(self, timeout: float) -> None:
        self._changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def set_mode(self, request: web.Request) -> web.Response:
        mode = request.match_info["mode"]
        if mode not in MODES:
            raise error(400, "bad_mode", f"Режим має бути одним із: {', '.join(MODES)}",
                        message_en=f"mode must be one of {', '.join(MODES)}")
        await self.switch(mode)
        return web.json_response({"mode": self.mode})

    async def switch(self, mode: str) -> None:
        was, self.mode = self.mode, mode
        self._changed.set()
        if mode == "dead" and was != "dead":
            await self._stop_video()
        elif mode != "dead" and was == "dead":
            await self._start_video()

    async def _start_video(self) -> None:
        app = web.Application()
        app.router.add_get("/video", self.video)
        app.router.add_get("/snapshot.jpg", self.snapshot)
        self._video = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._video.setup()
        self._video_site = web.TCPSite(self._video, self.host, self.port, reuse_address=True)
        await self._video_site.start()

    async def _stop_video(self) -> None:
        for response in list(self._streams):
            with contextlib.suppress(Exception):
                if response.task is not None:
                    response.task.cancel()
        if self._video is not None:
            await self._video.cleanup()
            self._video = None

    async def start(self, port: int, control_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        if self.mode != "dead":
            await self._start_video()
        control = web.Application()
        control.router.add_route("*", "/mode/{mode}", self.set_mode)
        control.router.add_get("/mode", lambda r: web.json_response({"mode": self.mode}))
        self._control = web.AppRunner(control, handle_signals=False)
        await self._control.setup()
        await web.TCPSite(self._control, host, control_port, reuse_address=True).start()

    async def stop(self) -> None:
        await self._stop_video()
        if self._control is not None:
            await self._control.cleanup()


async def serve(args: argparse.Namespace) -> None:
    camera = MjpegCamera(args.width, args.height, args.fps, args.mode)
    await camera.start(args.port, args.control_port, args.host)
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await camera.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated MJPEG camera")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--mode", choices=MODES, default="normal")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
