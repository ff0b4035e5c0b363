"""Re-serving a camera's H.264/H.265 packets as MPEG-TS, untouched.

Why MPEG-TS over one chunked HTTP response, and not HLS or RTSP:

- it is a plain byte stream, so aiohttp serves it like any response, behind
  the same token check as every camera endpoint; no second server, port or
  protocol to open on the board's firewall (RTSP would need its own server
  and authentication scheme, and its UDP transport rarely survives NAT);
- a viewer can join at any keyframe: the muxer repeats PAT/PMT before every
  video keyframe and puts SPS/PPS in front of it, so the fan-out only has to
  start each viewer at a keyframe chunk;
- latency stays near the camera's own, plus the worker's read bursts
  (`read_batch_s`, 0.2 s); HLS adds at least two segments, 4–10 s, and
  needs a segment store in memory;
- VLC, mpv, ffplay, ffmpeg and every NVR read it (`?token=` in the URL).

Packets are copied: no decoder, no encoder. Only their timestamps may be
shifted forward when a source jumps back (a camera that rebooted, a file
that looped), because a muxer refuses time running backwards.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import av

log = logging.getLogger("hromada.camera.remux")


class MpegTsRemuxer:
    """Muxes one video stream's packets into MPEG-TS chunks, one chunk per packet.

    `sink(parts, keyframe)` receives the bytes written for each packet, in
    the pieces the muxer wrote them (the caller may keep the list); a chunk
    flagged keyframe is where a new viewer may start. The first chunk
    is always a keyframe: packets before the first keyframe are skipped.
    """

    def __init__(self, template: Any, sink: Callable[[list[bytes], bool], None]) -> None:
        self._sink = sink
        self._parts: list[bytes] = []
        # flush_packets: every packet's bytes leave the muxer before mux() returns.
        self._container = av.open(self, "w", format="mpegts", options={"flush_packets": "1"})
        self._stream = self._container.add_stream_from_template(template)
        self._started = False
        self._last_dts: int | None = None
        self._offset = 0
        self.muxed = 0
        self.skipped = 0

    # The muxer writes through this file-like interface (PyAV hands it bytes).
    def write(self, data: bytes) -> int:
        self._parts.append(data)
        return len(data)

    def mux(self, packet: Any) -> None:
        """Add one demuxed packet (it is modified: its stream and timestamps change)."""
        if packet.dts is None or (not self._started and not packet.is_keyframe):
            self.skipped += 1
            return
        if self._last_dts is not None and packet.dts + self._offset <= self._last_dts:
            # Time went backwards (reboot, loop): carry on one frame after the last.
            step = packet.duration or 1
            self._offset = self._last_dts + step - packet.dts
        if self._offset:
            packet.dts += self._offset
            if packet.pts is not None:
                packet.pts += self._offset
        self._last_dts = packet.dts
        keyframe = packet.is_keyframe
        packet.stream = self._stream
        try:
            self._container.mux(packet)
        except av.error.FFmpegError as exc:
            self.skipped += 1
            log.debug("packet not muxed: %s", exc)
            self._parts.clear()
            return
        self._started = True
        self.muxed += 1
        if self._parts:
            parts, self._parts = self._parts, []
            self._sink(parts, keyframe)

    def close(self) -> None:
        try:
            self._container.close()
        except Exception:  # closing a half-started muxer must never take the worker down
            pass
