"""Simulated cameras as separate processes, for the demo, the tests and the benchmark.

A simulated camera runs in its own process so it can fail the way a real
one does: killed (SIGKILL: connections reset), hung (SIGSTOP: connections
open, nothing comes), restarted on the same port. `mode` switches its
picture over its control port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cameras.clips import ClipSpec, ensure_clips, ffmpeg_path

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rtsp_available() -> str | None:
    """None when the RTSP simulator can run here, else what is missing."""
    if ffmpeg_path() is None:
        return "ffmpeg is not installed"
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                            "from gi.repository import GstRtspServer"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return "GStreamer's RTSP server for Python is missing (python3-gi, gir1.2-gst-rtsp-server-1.0)"
    return None


class SimCamera:
    """A simulated camera process: start, switch, kill, hang, resume, restart."""

    kind = ""

    def __init__(self, log: Path | None = None, port: int = 0, control_port: int = 0) -> None:
        self.port = port or free_port()
        self.control_port = control_port or free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.mode_now = "normal"

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        raise NotImplementedError

    def start(self, timeout: float = 60.0) -> "SimCamera":
        """Start the process and wait until it serves."""
        err = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.command() + ["--mode", self.mode_now], stdout=subprocess.PIPE, stderr=err,
                                     stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
        if self.log:
            err.close()  # type: ignore[union-attr]
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if b"ready" not in line or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"{self.kind} camera simulator did not start (log: {self.log})")
        return self

    def mode(self, mode: str) -> None:
        """Switch the picture (normal, black, frozen, blurred, moved, stalled, dead)."""
        url = f"http://127.0.0.1:{self.control_port}/mode/{mode}"
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5) as r:  # noqa: S310
            json.loads(r.read())
        self.mode_now = mode if mode != "dead" else self.mode_now

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: the camera vanishes, its connections are reset."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def hang(self) -> None:
        """SIGSTOP: connections stay open and nothing comes (the worst case)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class MjpegSim(SimCamera):
    """`cameras.sim_mjpeg` in its own process (the project's Python)."""

    kind = "MJPEG"

    def __init__(self, log: Path | None = None, port: int = 0, control_port: int = 0, fps: float = 10.0,
                 width: int = 640, height: int = 360) -> None:
        super().__init__(log, port, control_port)
        self.fps, self.width, self.height = fps, width, height

    def command(self) -> list[str]:
        return [sys.executable, "-m", "cameras.sim_mjpeg", "--port", str(self.port), "--control-port",
                str(self.control_port), "--fps", str(self.fps), "--width", str(self.width), "--height",
                str(self.height)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video"


class RtspSim(SimCamera):
    """`cameras.sim_rtsp` in Debian's system Python (GStreamer RTSP server)."""

    kind = "RTSP"

    def __init__(self, log: Path | None = None, port: int = 0, control_port: int = 0,
                 spec: ClipSpec = ClipSpec(), cache: Path | None = None) -> None:
        super().__init__(log, port, control_port)
        self.spec = spec
        self.clips = ensure_clips(spec, cache)

    def command(self) -> list[str]:
        return [SYSTEM_PYTHON, "-m", "cameras.sim_rtsp", "--port", str(self.port), "--control-port",
                str(self.control_port), "--clips", str(self.clips), "--fps", str(self.spec.fps)]

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"
