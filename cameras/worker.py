"""One camera's worker process: connect, read packets, judge keyframes, relay on demand.

Started by the relay (`cameras.supervisor`) as ``python -m cameras.worker``,
one process per camera, so a camera that hangs inside FFmpeg can be killed
without touching the others (a thread stuck in a C call cannot be stopped).
The first line on stdin is the spec (JSON, with the URL and its
credentials: never on the command line, where `ps` shows it); later lines
switch relaying and the preview on and off. Everything the relay needs
leaves on stdout as `cameras.ipc` messages; logs go to stderr, redacted.

Per packet the worker notes arrival time, size and keyframe flag. At most
once per `health_interval_s` it decodes one picture: for H.264/H.265 a
keyframe alone (`skip_frame = "NONKEY"`, never a P-frame: ~2 % of a core at
1080p instead of ~20 %), for MJPEG one JPEG at reduced scale (libjpeg
decodes 1/2–1/8 scale almost for free). The luma plane becomes the small
gray frame of `cameras.frames.prepare_frame`; the picture also becomes the
snapshot JPEG (MJPEG frames pass as they are).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any, Callable

from cameras import ipc
from cameras.reconnect import STABLE_AFTER_S, reconnect_delay
from cameras.settings import redact

log = logging.getLogger("hromada.camera.worker")

NOTES_EVERY_S = 0.2
CAUGHT_UP_S = 0.004  # a read that took longer waited for the camera: nothing was left in the socket
LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray",
              "yuv420p10le"}
FULL_RANGE = {"yuvj420p", "yuvj422p", "yuvj444p", "gray"}


class Control:
    """Flags the relay switches over stdin; read by a small thread."""

    def __init__(self, relay: bool = False, preview: bool = False) -> None:
        self.relay = relay
        self.preview = preview
        self._stop = threading.Event()

    def listen(self, stream: Any) -> None:
        for line in stream:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("stop"):
                break
            self.relay = bool(msg.get("relay", self.relay))
            self.preview = bool(msg.get("preview", self.preview))
        # stdin closed or "stop": the relay is gone or wants us gone; a main
        # thread blocked inside FFmpeg would never notice, so leave at once.
        self._stop.set()
        os._exit(0)

    def sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)


def open_options(url: str, read_timeout_s: float) -> dict[str, str]:
    """FFmpeg's options for opening a camera: TCP for RTSP, and the read timeout kept in FFmpeg's sockets.

    The read timeout is FFmpeg's own (`timeout` for RTSP, `rw_timeout` for
    HTTP), not PyAV's: PyAV's timeout is an interrupt callback that takes
    the GIL and calls Python's clock before every socket wait (some 700 a
    second for one 720p camera over RTSP), a visible share of the worker's
    CPU. PyAV's timeout guards only the opening.
    """
    options = {"analyzeduration": "2000000", "probesize": "2000000"}
    micros = str(int(read_timeout_s * 1_000_000))
    if url.startswith(("rtsp://", "rtsps://")):
        options["rtsp_transport"] = "tcp"
        options["timeout"] = micros
    elif url.startswith(("http://", "https://")):
        options["rw_timeout"] = micros
    return options


def small_gray(frame: Any, full_range_hint: bool) -> Any:
    """The health checks' small gray frame from a decoded picture, in full range (0–255)."""
    import cv2
    import numpy as np

    from cameras.frames import prepare_frame

    name = frame.format.name
    if name in LUMA_FIRST and not name.endswith("10le"):
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width]
    else:
        luma = frame.to_ndarray(format="gray")
        name = "gray"
    small = prepare_frame(luma)
    if name not in FULL_RANGE and not full_range_hint:
        # Limited ("TV") range: black is 16 and white 235. Stretch after
        # shrinking (cheap at 320 px) so black and over-exposed mean the same
        # thing for every camera.
        small = cv2.convertScaleAbs(small, alpha=255 / 219, beta=-16 * 255 / 219)
    return np.ascontiguousarray(small)


def mjpeg_gray(data: bytes, width: int) -> Any:
    """Decode a JPEG at reduced scale straight to gray (1/2–1/8 in libjpeg's DCT)."""
    import cv2
    import numpy as np

    from cameras.frames import prepare_frame

    flag = cv2.IMREAD_GRAYSCALE
    for factor, reduced in ((8, cv2.IMREAD_REDUCED_GRAYSCALE_8), (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
                            (2, cv2.IMREAD_REDUCED_GRAYSCALE_2)):
        if width and width // factor >= 640:
            flag = reduced
            break
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if gray is None:
        raise ValueError("undecodable JPEG")
    return prepare_frame(gray)


def file_pacer(time_base: Any, started: float) -> Callable[[int | None], None]:
    """Paces a file at its own frame rate, as a camera would send it: sleeps until each packet is due."""
    first: list[float] = []

    def pace(pts: int | None) -> None:
        if pts is None or time_base is None:
            return
        at = float(pts * time_base)
        if not first:
            first.append(at)
        delay = started + (at - first[0]) - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, 1.0))

    return pace


class Session:
    """One connection to the camera, until it fails (or for ever)."""

    def __init__(self, spec: dict[str, Any], out: ipc.Writer, control: Control) -> None:
        self.spec = spec
        self.out = out
        self.control = control
        self.first_packet_at: float | None = None
        self._notes: tuple[list[float], list[int], list[bool]] = ([], [], [])
        self._last_health = float("-inf")
        self._last_preview = float("-inf")
        self._remuxer: Any = None

    def run(self) -> None:
        import av

        url: str = self.spec["url"]
        is_file = url.startswith("file://")
        container = av.open(url[7:] if is_file else url, options=open_options(url, self.spec["read_timeout_s"]),
                            timeout=(self.spec["open_timeout_s"], None))
        try:
            if not container.streams.video:
                raise ValueError("the source has no video stream")
            stream = container.streams.video[0]
            cc = stream.codec_context
            mjpeg = cc.name == "mjpeg"
            if not mjpeg:
                cc.skip_frame = "NONKEY"
                cc.thread_count = 1  # frame threads would hold a keyframe back until more packets came
            self.out.status(state="streaming", codec=cc.name, width=cc.width, height=cc.height,
                            relay_format="mjpeg" if mjpeg else "mpegts")
            loop_offset = 0.0
            while True:
                self._pump(container, stream, mjpeg, is_file, loop_offset)
                if not is_file:
                    raise EOFError("the camera ended the stream")
                # A file stands in for a camera: play it again, for ever.
                loop_offset = time.monotonic()
                container.seek(0)
        finally:
            if self._remuxer is not None:
                self._remuxer.close()
                self._remuxer = None
            container.close()

    def _pump(self, container: Any, stream: Any, mjpeg: bool, is_file: bool, loop_started: float) -> None:
        """Read packets until the source ends: the worker's hot loop, 25–30 times a second per camera.

        Most of a relaying worker's CPU is not the work on a packet but
        waking up for it: a small process woken 30 times a second finds its
        caches cold every time, and the interpreter's footprint is larger than
        FFmpeg's. So once caught up with the camera the loop sleeps for
        `read_batch_s` and then takes the frames gathered in the socket in one
        go (`bench/cameras.py`: 0.2 s takes the worker from 1.5–1.7× the CPU
        of `ffmpeg -c copy` to about 1.1×). And what each packet needs is
        bound to locals first.
        """
        monotonic = time.monotonic
        control = self.control
        arrivals, sizes, keys = self._notes
        notes_due = monotonic() + NOTES_EVERY_S
        judge_every = 0.9 * self.spec["health_interval_s"] if self.spec.get("health", True) else float("inf")
        preview_every = 1 / self.spec["preview_fps"]
        pace = file_pacer(stream.time_base, loop_started or monotonic()) if is_file else None
        batch = 0.0 if is_file else self.spec.get("read_batch_s", 0.0)
        done = monotonic()
        slept_at: float | None = None  # when the loop last went to sleep to let frames gather
        for packet in container.demux(stream):
            size = packet.size
            if not size:
                continue
            if pace is not None:
                pace(packet.pts)
            now = monotonic()
            # A read that had to wait means we have caught up with the
            # camera; after this packet, let the next frames gather in the
            # socket and take them in one wakeup (see `read_batch_s`).
            waited = now - done > CAUGHT_UP_S
            if waited:
                slept_at = None
            gather = batch and waited and not (mjpeg and control.relay)
            key = packet.is_keyframe
            # A packet found waiting after a gathering sleep came during that
            # sleep: date it from the sleep's start, never later than it came,
            # because the offline rule counts the silence from the last packet.
            arrivals.append(now if slept_at is None else slept_at)
            sizes.append(size)
            keys.append(key)
            if now >= notes_due:
                if self.first_packet_at is None:
                    self.first_packet_at = arrivals[0]
                self.out.packets(arrivals, sizes, keys)
                arrivals.clear()
                sizes.clear()
                keys.clear()
                notes_due = now + NOTES_EVERY_S
            if key and now - self._last_health >= judge_every:
                self._last_health = now
                self._judge(packet, stream, mjpeg, now)
            elif mjpeg and control.preview and now - self._last_preview >= preview_every:
                self._last_preview = now
                self.out.picture(now, bytes(packet))
            if control.relay:
                if mjpeg:
                    self.out.relay((memoryview(packet),), True)
                else:
                    (self._remuxer or self._start_remux(stream)).mux(packet)
            elif self._remuxer is not None:
                self._remuxer.close()
                self._remuxer = None
            if gather:
                slept_at = monotonic()
                time.sleep(batch)
            done = monotonic()

    def _start_remux(self, stream: Any) -> Any:
        from cameras.remux import MpegTsRemuxer

        self._remuxer = MpegTsRemuxer(stream, self.out.relay)
        return self._remuxer

    def _judge(self, packet: Any, stream: Any, mjpeg: bool, at: float) -> None:
        try:
            if mjpeg:
                data = bytes(packet)
                self.out.gray(at, mjpeg_gray(data, stream.codec_context.width))
                self._last_preview = at
                self.out.picture(at, data)
                return
            self._judge_keyframe(packet, stream, at)
        except (ValueError, OSError) as exc:  # one bad picture is not a broken camera
            log.warning("picture not judged: %s", redact(str(exc)))
        except Exception as exc:  # noqa: BLE001 - av.error.* too: decoding one keyframe failed
            log.warning("keyframe not decoded: %s", redact(f"{type(exc).__name__}: {exc}"))

    def _judge_keyframe(self, packet: Any, stream: Any, at: float) -> None:
        import cv2

        cc = stream.codec_context
        # Drain at once: with B-frames the decoder would hold the picture
        # until the next packet, which we never send (non-key are skipped).
        frames = list(cc.decode(packet)) + list(cc.decode(None))
        cc.flush_buffers()
        if not frames:
            return
        picture = frames[-1]
        full_range = str(getattr(cc, "color_range", "")).lower() in ("2", "jpeg", "colorrange.jpeg")
        self.out.gray(at, small_gray(picture, full_range))
        ok, jpeg = cv2.imencode(".jpg", picture.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            self.out.picture(at, jpeg.tobytes())


def run(spec: dict[str, Any], out: ipc.Writer, control: Control) -> None:
    """Connect and stream for ever, waiting longer after each failure in a row."""
    attempt = int(spec.get("attempt", 0))
    error = spec.get("last_error", "")
    while True:
        if attempt:
            wait = reconnect_delay(attempt, spec["reconnect_max_s"])
            out.status(state="waiting", attempt=attempt, wait_s=wait, error=error)
            control.sleep(wait)
        out.status(state="connecting", attempt=attempt)
        session = Session(spec, out, control)
        try:
            session.run()
        except Exception as exc:  # noqa: BLE001 - every failure means: wait, then try again
            error = redact(f"{type(exc).__name__}: {exc}", tuple(spec.get("secrets", ())))
        stable = session.first_packet_at is not None and time.monotonic() - session.first_packet_at >= STABLE_AFTER_S
        # The relay logs the failure from the "waiting" status that follows.
        attempt = 1 if stable else attempt + 1


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    spec = json.loads(sys.stdin.readline())
    control = Control(relay=bool(spec.get("relay")), preview=bool(spec.get("preview")))
    threading.Thread(target=control.listen, args=(sys.stdin,), daemon=True, name="control").start()
    run(spec, ipc.Writer(sys.stdout.buffer), control)


if __name__ == "__main__":
    main()
