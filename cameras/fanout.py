"""Handing one camera's bytes to many viewers, none of whom can slow the others.

Publishing never waits: each viewer has its own bounded queue and its own
writer task, so a viewer on a bad mobile link only ever hurts itself.

- A stream viewer (MPEG-TS) gets every chunk while it keeps up. When its
  queue overflows it is emptied and the viewer skips to the next keyframe
  chunk: a picture that jumps ahead, never a corrupt one, and never memory
  growing without bound.
- A picture viewer (MJPEG preview, relayed MJPEG) has a one-picture slot:
  each new picture replaces the one not yet sent, so a slow viewer sees
  fewer pictures, always the latest.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Viewer:
    """One viewer's queue; read it with `get`."""

    def __init__(self, who: str, *, max_bytes: int, latest_only: bool) -> None:
        self.who = who
        self.max_bytes = max_bytes
        self.latest_only = latest_only
        self.sent = 0
        self.dropped = 0  # chunks or pictures this viewer missed because it was behind
        self.resyncs = 0
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self._waiting_for_key = not latest_only  # a stream starts at a keyframe
        self._ready = asyncio.Event()
        self.closed = False

    def offer(self, data: bytes, keyframe: bool) -> None:
        """Queue `data` for this viewer, dropping what it cannot keep up with."""
        if self.latest_only:
            if self._queue:
                self.dropped += len(self._queue)
                self._queue.clear()
            self._queue.append(data)
            self._ready.set()
            return
        if self._waiting_for_key:
            if not keyframe:
                self.dropped += 1
                return
            self._waiting_for_key = False
        if self._bytes + len(data) > self.max_bytes and self._queue:
            self.dropped += len(self._queue)
            self.resyncs += 1
            self._queue.clear()
            self._bytes = 0
            if not keyframe:
                self._waiting_for_key = True
                self.dropped += 1
                return
        self._queue.append(data)
        self._bytes += len(data)
        self._ready.set()

    async def get(self) -> bytes:
        """The next chunk or picture for this viewer (waits for one)."""
        while not self._queue:
            if self.closed:
                raise ConnectionResetError("camera stream closed")
            self._ready.clear()
            await self._ready.wait()
        data = self._queue.popleft()
        if not self.latest_only:
            self._bytes -= len(data)
        self.sent += 1
        return data

    def close(self) -> None:
        self.closed = True
        self._ready.set()


class FanOut:
    """The viewers of one feed of one camera."""

    def __init__(self) -> None:
        self.viewers: set[Viewer] = set()
        self.dropped_total = 0

    def __len__(self) -> int:
        return len(self.viewers)

    def add(self, viewer: Viewer) -> Viewer:
        self.viewers.add(viewer)
        return viewer

    def remove(self, viewer: Viewer) -> None:
        if viewer in self.viewers:
            self.viewers.discard(viewer)
            self.dropped_total += viewer.dropped
        viewer.close()

    def publish(self, data: bytes, keyframe: bool = True) -> None:
        for viewer in self.viewers:
            viewer.offer(data, keyframe)

    def dropped(self) -> int:
        """Chunks and pictures viewers missed, those gone included."""
        return self.dropped_total + sum(v.dropped for v in self.viewers)

    def close(self) -> None:
        for viewer in list(self.viewers):
            self.remove(viewer)
