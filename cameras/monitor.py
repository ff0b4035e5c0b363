"""Everything the relay knows about one camera right now, fed by its worker.

`CameraMonitor` owns the camera's `CameraHealth` (the judging core), its
latest picture, its viewers and its figures. The worker's messages arrive
through the `WorkerSink` methods; `check_forever` ticks it once a second
and at the moment it would turn offline. Health events go to `on_events`
(the role turns them into hub alerts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Iterable

from edge.clock import Clock
from cameras import ipc
from cameras.fanout import FanOut
from cameras.health import CameraHealth, HealthConfig, HealthEvent, SceneBaseline, Verdict
from cameras.offline import offline_jpeg
from cameras.reconnect import WorkerState
from cameras.settings import CameraSection, CameraSettings

log = logging.getLogger("hromada.camera")

BITRATE_WINDOW_S = 10.0
#: The offline picture is sent to preview viewers this often while a camera is down.
OFFLINE_PREVIEW_EVERY_S = 2.0

EventsCallback = Callable[["CameraMonitor", list[HealthEvent]], None]


class CameraMonitor:
    """One camera's health, latest picture, viewers and figures (a `WorkerSink`)."""

    def __init__(self, section: CameraSection, settings: CameraSettings, health_config: HealthConfig,
                 on_events: EventsCallback, baseline: SceneBaseline | None = None, clock: Clock | None = None) -> None:
        self.section = section
        self.clock = clock or Clock()  # the times on the OFFLINE card: the node's zone, not the board's
        self.settings = settings
        now = time.monotonic()
        expected = section.expected_fps or None
        self.health = CameraHealth(section.id, started_at=now, expected_fps=expected, config=health_config,
                                   baseline=baseline)
        self.on_events = on_events
        self.stream = FanOut()  # the relayed stream (MPEG-TS chunks or MJPEG pictures)
        self.preview = FanOut()  # the low-rate MJPEG preview (JPEG pictures)
        self.state = WorkerState.STARTING
        self.info: dict[str, Any] = {}  # codec, width, height, relay_format of the current connection
        self.connected = False
        self.reconnects = 0
        self.keyframes = 0
        self.latest_jpeg: bytes | None = None
        self.latest_jpeg_at: float | None = None
        self.down_since: datetime | None = datetime.now(timezone.utc)
        self._bytes: deque[tuple[float, int]] = deque()
        self._bytes_sum = 0
        self._offline_sent = float("-inf")

    @property
    def id(self) -> str:
        return self.section.id

    # -- the worker's news ---------------------------------------------------------------

    def on_state(self, state: WorkerState, info: dict[str, Any], at: float) -> None:
        if state is WorkerState.CONNECTING and int(info.get("attempt", 0)) > 0:
            self.reconnects += 1
        was = self.connected
        self.state = state
        self.connected = state is WorkerState.STREAMING
        if self.connected:
            self.info = {k: info.get(k) for k in ("codec", "width", "height", "relay_format")}
        elif was:
            self.down_since = datetime.now(timezone.utc)
            self.stream.close()  # a viewer reconnects and starts on the next connection's keyframe

    def on_packets(self, notes: ipc.PacketNotes) -> None:
        for at, size in zip(notes.arrivals, notes.sizes):
            self.health.on_packet(at)
            self._bytes.append((at, size))
            self._bytes_sum += size
        if notes.arrivals:
            self.down_since = None
        self._forget_bytes(time.monotonic())

    def on_gray(self, at: float, pixels: Any) -> None:
        self.keyframes += 1
        try:
            events = self.health.on_keyframe(pixels, at)
        except ValueError as exc:
            log.warning("camera %s: keyframe not judged: %s", self.id, exc)
            return
        if events:
            self.on_events(self, events)

    def on_picture(self, at: float, jpeg: bytes) -> None:
        self.latest_jpeg = jpeg
        self.latest_jpeg_at = at
        self.preview.publish(jpeg)

    def on_relay(self, data: bytes, keyframe: bool) -> None:
        self.stream.publish(data, keyframe)

    # -- once a second ---------------------------------------------------------------------

    def tick(self, at: float) -> None:
        events = self.health.check(at, connected=self.connected)
        if events:
            self.on_events(self, events)
        if len(self.preview) and not self.picture_is_current(at) and at - self._offline_sent >= OFFLINE_PREVIEW_EVERY_S:
            self._offline_sent = at
            self.preview.publish(self.offline_picture())

    # -- what viewers get ------------------------------------------------------------------

    def is_up(self, at: float) -> bool:
        """Connected, packets flowing, and not judged offline."""
        age = self.health.stream(at, connected=self.connected).last_packet_age_s
        return self.connected and age < self.health.config.offline_after_s and Verdict.OFFLINE not in self.health.active

    def picture_is_current(self, at: float) -> bool:
        """The latest picture shows the camera's view now (else only the OFFLINE image may be shown)."""
        if self.latest_jpeg_at is None or not self.is_up(at):
            return False
        limit = max(self.health.config.offline_after_s, 3 * self.settings.health_interval_s)
        return at - self.latest_jpeg_at <= limit

    def offline_picture(self) -> bytes:
        width = int(self.info.get("width") or 640)
        height = int(self.info.get("height") or 360)
        title = self.section.name + (f" — {self.section.location}" if self.section.location else "")
        since = self.down_since.astimezone(self.clock.tz) if self.down_since else None
        return offline_jpeg(title, since=since, now=self.clock.now(), width=width, height=height)

    def snapshot(self, at: float) -> tuple[bytes, bool]:
        """(JPEG, is_live): the latest picture while it is current, else the OFFLINE image."""
        if self.picture_is_current(at) and self.latest_jpeg is not None:
            return self.latest_jpeg, True
        return self.offline_picture(), False

    # -- figures ------------------------------------------------------------------------------

    def _forget_bytes(self, at: float) -> None:
        while self._bytes and self._bytes[0][0] <= at - BITRATE_WINDOW_S:
            self._bytes_sum -= self._bytes.popleft()[1]

    def bitrate(self, at: float) -> float:
        """Bits per second of video over the last 10 s."""
        self._forget_bytes(at)
        return self._bytes_sum * 8 / BITRATE_WINDOW_S

    def describe(self, at: float) -> dict[str, Any]:
        """The camera's state for people and pages (no URL: it may say too much)."""
        measures = self.health.stream(at, connected=self.connected)
        verdict = self.health.verdict
        return {
            "id": self.id, "name": self.section.name, "location": self.section.location,
            "up": self.is_up(at), "state": str(self.state), "verdict": str(verdict),
            "active": sorted(str(v) for v in self.health.active),
            "last_packet_age_s": round(measures.last_packet_age_s, 2),
            "fps": None if measures.fps is None else round(measures.fps, 2),
            "bitrate_bps": round(self.bitrate(at)), "stalls": measures.stalls, "reconnects": self.reconnects,
            "codec": self.info.get("codec"), "width": self.info.get("width"), "height": self.info.get("height"),
            "stream_format": self.info.get("relay_format"),
            "viewers": {"stream": len(self.stream), "preview": len(self.preview)},
        }


async def check_forever(monitors: Callable[[], Iterable[CameraMonitor]],
                        after_round: Callable[[CameraMonitor, float], Awaitable[None]] | None = None) -> None:
    """Tick every camera once a second, and a silent one also at the moment it becomes offline.

    The offline rule is "no packet for `offline_after_s`"; checked only on
    the second it would be reported up to a second late, so the loop also
    wakes at the earliest moment a camera would cross it. Only moments still
    ahead count: one that passed without a verdict (a cooldown held it back)
    waits for the next round instead of making the loop spin.
    `after_round(monitor, now)` runs after each whole round's tick.
    """
    next_round = time.monotonic() + 1.0
    while True:
        now = time.monotonic()
        due = min([next_round, *(d for m in monitors() if (d := m.health.offline_due()) > now)])
        await asyncio.sleep(due - now + 0.001)
        now = time.monotonic()
        whole_round = now >= next_round
        if whole_round:
            next_round = max(next_round + 1.0, now + 0.5)
        for monitor in list(monitors()):
            if not whole_round and monitor.health.offline_due() > now:
                continue
            try:
                monitor.tick(now)
            except Exception:  # noqa: BLE001 - one camera's bug must not stop the others' checks
                log.exception("camera %s: health check failed", monitor.id)
            if whole_round and after_round is not None:
                await after_round(monitor, now)
