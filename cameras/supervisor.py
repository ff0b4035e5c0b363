"""Keeps one camera's worker process alive: spawns it, listens to it, kills it when it hangs.

The watchdog lives here, outside the media library: the worker tells what it
is doing (connecting, streaming, waiting between attempts), and each state
has a deadline (`cameras.reconnect.watchdog_deadline`); a worker that
misses it, above all one whose last packet is older than `watchdog_s`, is
killed (SIGKILL: a process stuck in a C call ignores everything else) and
a new one started, carrying on the reconnection schedule where the old one
was. A worker that dies by itself is restarted the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from typing import Any, Protocol

from edge.tasks import cancel_and_wait
from cameras import ipc
from cameras.reconnect import WorkerState, watchdog_deadline
from cameras.settings import CameraSettings, CameraSource, redact

log = logging.getLogger("hromada.camera")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WorkerSink(Protocol):
    """Where a worker's news goes (the camera's `CameraMonitor`)."""

    def on_state(self, state: WorkerState, info: dict[str, Any], at: float) -> None: ...

    def on_packets(self, notes: ipc.PacketNotes) -> None: ...

    def on_gray(self, at: float, pixels: Any) -> None: ...

    def on_picture(self, at: float, jpeg: bytes) -> None: ...

    def on_relay(self, data: bytes, keyframe: bool) -> None: ...


class CameraSupervisor:
    """One camera's worker process, restarted for as long as the relay runs."""

    def __init__(self, source: CameraSource, settings: CameraSettings, sink: WorkerSink) -> None:
        self.source = source
        self.settings = settings
        self.sink = sink
        self.state = WorkerState.STARTING
        self.state_since = time.monotonic()
        self.wait_s = 0.0
        self.attempt = 0
        self.last_error = ""
        self.last_packet: float | None = None
        self.restarts = 0  # processes killed by the watchdog
        self.crashes = 0  # processes that exited by themselves
        self.relay = False
        self.preview = False
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def connected(self) -> bool:
        return self.state is WorkerState.STREAMING

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"camera-{self.source.id}")

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait([self._task])
        await self._kill()

    def set_flags(self, *, relay: bool | None = None, preview: bool | None = None) -> None:
        """Switch relaying and the preview in the running worker (and in the next one)."""
        if relay is not None:
            self.relay = relay
        if preview is not None:
            self.preview = preview
        self._send({"relay": self.relay, "preview": self.preview})

    def _send(self, msg: dict[str, Any]) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None and not proc.stdin.is_closing():
            with contextlib.suppress(Exception):
                proc.stdin.write((json.dumps(msg) + "\n").encode())

    def _spec(self) -> dict[str, Any]:
        s = self.settings
        return {
            "camera_id": self.source.id, "url": self.source.url, "secrets": list(self.source.secrets),
            "attempt": self.attempt, "last_error": self.last_error, "health": True,
            "health_interval_s": s.health_interval_s, "preview_fps": s.preview_fps,
            "open_timeout_s": s.open_timeout_s, "read_timeout_s": s.read_timeout_s,
            "reconnect_max_s": s.reconnect_max_s, "relay": self.relay, "preview": self.preview,
            "read_batch_s": s.read_batch_s,
        }

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._one_process()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bug here must not end the camera's supervision
                log.exception("camera %s: supervisor error", self.source.id)
                await asyncio.sleep(1.0)
            if not self._stopping:
                # The next worker waits first, by the schedule, before connecting.
                self.attempt = max(self.attempt, 0) + 1
                self._set_state(WorkerState.STARTING, {})

    async def _one_process(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cameras.worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
            limit=1024 * 1024, start_new_session=True)
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write((json.dumps(self._spec()) + "\n").encode())
        self.state_since = time.monotonic()
        reader = asyncio.create_task(self._read(proc.stdout))
        logs = asyncio.create_task(self._logs(proc.stderr))
        watchdog = asyncio.create_task(self._watchdog())
        try:
            done, _ = await asyncio.wait({reader, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            if watchdog in done:
                self.restarts += 1
                log.warning("camera %s: worker %s for %.0f s without progress: killed, starting anew",
                            self.source.id, self.state, time.monotonic() - self._progress_at())
        finally:
            for task in (reader, watchdog):
                task.cancel()
            await self._kill()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(logs, 1.0)
        if proc.returncode not in (None, 0, -9) and not self._stopping:
            self.crashes += 1
        self.last_packet = None

    def _progress_at(self) -> float:
        if self.state is WorkerState.STREAMING and self.last_packet is not None:
            return self.last_packet
        return self.state_since

    async def _watchdog(self) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(0.5)
            deadline = watchdog_deadline(self.state, self.state_since, last_packet=self.last_packet,
                                         wait_s=self.wait_s, open_timeout_s=s.open_timeout_s,
                                         watchdog_s=s.watchdog_s)
            if time.monotonic() > deadline:
                return

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5.0)

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        sink = self.sink
        while True:
            try:
                kind, length = ipc.HEADER.unpack(await stdout.readexactly(ipc.HEADER.size))
                body = await stdout.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the worker exited
            if kind == ipc.PACKETS:
                notes = ipc.read_packets(body)
                if notes.arrivals:
                    self.last_packet = notes.arrivals[-1]
                sink.on_packets(notes)
            elif kind == ipc.RELAY:
                sink.on_relay(*ipc.read_relay(body))
            elif kind == ipc.GRAY:
                sink.on_gray(*ipc.read_gray(body))
            elif kind == ipc.PICTURE:
                sink.on_picture(*ipc.read_picture(body))
            elif kind == ipc.STATUS:
                info = json.loads(body)
                self._on_status(info)

    def _on_status(self, info: dict[str, Any]) -> None:
        state = WorkerState(info.get("state", "starting"))
        self.attempt = int(info.get("attempt", self.attempt))
        if info.get("error"):
            self.last_error = redact(str(info["error"]), self.source.secrets)
        if state is WorkerState.WAITING:
            self.wait_s = float(info.get("wait_s", 0.0))
        if state is WorkerState.STREAMING:
            self.last_packet = None
            log.info("camera %s: connected to %s (%s %sx%s)", self.source.id, self.source.public_url,
                     info.get("codec"), info.get("width"), info.get("height"))
            # The worker was started before a viewer came, or the flags changed meanwhile.
            self._send({"relay": self.relay, "preview": self.preview})
        elif state is WorkerState.WAITING:
            log.info("camera %s: %s; trying again in %.1f s (attempt %d)", self.source.id,
                     self.last_error or "not connected", self.wait_s, self.attempt)
        self._set_state(state, info)

    def _set_state(self, state: WorkerState, info: dict[str, Any]) -> None:
        self.state = state
        self.state_since = time.monotonic()
        self.sink.on_state(state, info, self.state_since)

    async def _logs(self, stderr: asyncio.StreamReader) -> None:
        while line := await stderr.readline():
            text = redact(line.decode("utf-8", "replace").rstrip(), self.source.secrets)
            if text:
                log.info("camera %s worker: %s", self.source.id, text[:500])
