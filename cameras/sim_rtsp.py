"""A simulated RTSP IP camera, served by GStreamer's RTSP server, switchable at run time.

Runs in Debian's system Python, because the GObject bindings (python3-gi,
gir1.2-gst-rtsp-server-1.0) exist only there; it imports nothing but the
standard library, GI and `cameras.annexb`, so it needs no virtual environment
(run it from the project root):

    /usr/bin/python3 -m cameras.sim_rtsp --port 8554 --control-port 8555 --clips DIR [--fps 10]

Serves ``rtsp://host:port/cam``: the pre-encoded H.264 clips in DIR (see
`cameras.clips`), frame by frame through an appsrc, looped, with steadily
growing timestamps, so it behaves like a camera and costs next to nothing.
The control port switches the mode: ``POST /mode/<mode>`` with one of

    normal, black, frozen, blurred, moved   the clip shown (switched at its keyframe)
    stalled   sessions stay open, no frame is sent
    dead      every session is closed and the stream refuses new ones (404)

Prints ``ready`` on stdout when it serves.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from cameras.annexb import split_access_units  # noqa: E402
from edge.errors import Refusal  # noqa: E402

PICTURES = ("normal", "black", "frozen", "blurred", "moved")
MODES = (*PICTURES, "stalled", "dead")
MOUNT = "/cam"


class Feeder:
    """Pushes the current clip's frames into every live media's appsrc, at the frame rate."""

    def __init__(self, clips: dict[str, list[bytes]], fps: int, mode: str) -> None:
        self.clips = clips
        self.fps = fps
        self.mode = mode
        self.picture = mode if mode in PICTURES else "normal"
        self.index = 0
        self.sources: list[tuple[Gst.Element, list[int]]] = []  # appsrc, [frames pushed]

    def attach(self, appsrc: Gst.Element) -> None:
        self.sources.append((appsrc, [0]))

    def detach(self, appsrc: Gst.Element) -> None:
        self.sources = [(src, count) for src, count in self.sources if src is not appsrc]

    def switch(self, mode: str) -> None:
        self.mode = mode
        if mode in PICTURES and mode != self.picture:
            self.picture = mode
            self.index = 0  # every clip starts with a keyframe: switch there

    def tick(self) -> bool:
        if self.mode in ("stalled", "dead") or not self.sources:
            return True
        frames = self.clips[self.picture]
        data = frames[self.index % len(frames)]
        self.index += 1
        for appsrc, count in self.sources:
            buf = Gst.Buffer.new_wrapped(data)
            buf.pts = buf.dts = count[0] * Gst.SECOND // self.fps
            buf.duration = Gst.SECOND // self.fps
            count[0] += 1
            # A media between clients refuses buffers (flushing): it is
            # dropped when it is unprepared, not on one refusal.
            appsrc.emit("push-buffer", buf)
        return True


class Factory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, feeder: Feeder) -> None:
        super().__init__()
        self.feeder = feeder
        self.set_shared(True)

    def do_create_element(self, url: object) -> Gst.Element:
        caps = f"video/x-h264,stream-format=byte-stream,alignment=au,framerate={self.feeder.fps}/1"
        return Gst.parse_launch(f"appsrc name=src is-live=true format=time do-timestamp=false caps={caps} "
                                "! h264parse ! rtph264pay name=pay0 pt=96")

    def do_configure(self, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name("src")
        self.feeder.attach(appsrc)
        media.connect("unprepared", lambda m: self.feeder.detach(appsrc))


class Camera:
    """The RTSP server, its mount and its mode."""

    def __init__(self, port: int, clips: dict[str, list[bytes]], fps: int, mode: str) -> None:
        self.feeder = Feeder(clips, fps, mode)
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address("127.0.0.1")
        self.server.set_service(str(port))
        self.factory = Factory(self.feeder)
        if mode != "dead":
            self.server.get_mount_points().add_factory(MOUNT, self.factory)
        self.server.attach(None)
        GLib.timeout_add(max(1, 1000 // fps), self.feeder.tick)

    def switch(self, mode: str) -> bool:
        was = self.feeder.mode
        self.feeder.switch(mode)
        mounts = self.server.get_mount_points()
        if mode == "dead" and was != "dead":
            mounts.remove_factory(MOUNT)
            self.server.client_filter(lambda server, client: GstRtspServer.RTSPFilterResult.REMOVE)
            self.feeder.sources = []
        elif mode != "dead" and was == "dead":
            mounts.add_factory(MOUNT, self.factory)
        return False  # GLib.idle_add: run once


def control_server(camera: Camera, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _mode(self) -> None:
            mode = self.path.rstrip("/").rsplit("/", 1)[-1]
            if not self.path.startswith("/mode/") or mode not in MODES:
                refusal = Refusal("bad_mode", f"Режим має бути одним із: {', '.join(MODES)}",
                                  f"mode must be one of {', '.join(MODES)}")
                self._answer(400, {"error": refusal.to_dict()})
                return
            GLib.idle_add(camera.switch, mode)
            self._answer(200, {"mode": mode})

        do_GET = do_POST = _mode

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="Simulated RTSP camera (GStreamer)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--clips", required=True, help="directory with normal.h264, black.h264, …")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--mode", choices=MODES, default="normal")
    args = parser.parse_args()
    Gst.init(None)
    folder = Path(args.clips)
    clips = {p: split_access_units((folder / f"{p}.h264").read_bytes()) for p in PICTURES}
    camera = Camera(args.port, clips, args.fps, args.mode)
    control_server(camera, args.control_port)
    print("ready", flush=True)
    try:
        GLib.MainLoop().run()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
